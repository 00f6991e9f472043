"""The profile export `rekindle import --profiles` reads: what a row sets, and why one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.importer import ImportAborted, run_profile_import
from cli.order_export import BadRow, ExportError
from cli.profile_export import ProfileRow, read_header, read_profiles

EXPORT = (
    "Client_ID, Email ,first_name,time_zone,signup_date\n"  # any case, padded names, an extra column
    "c-1,anna@example.com,Anna,Europe/Stockholm,2020-01-01\n"  # 2
    "c-2,anna.at.example.com,Bo,,\n"  # 3: not an address
    "c-3,,,Mars/Olympus,\n"  # 4: not a time zone
    "ada@example.com,ada@example.com,Ada,,\n"  # 5: an email is not a client id
    "c-4,c4@example.com,Carl\n"  # 6: too few fields
    "\n"  # 7: blank, skipped
    "c-5,,Dora,,\n"  # 8: empty cells leave those fields as they are
    "c-6,c6@example.com,E\x00ve,,\n"  # 9: PostgreSQL text cannot hold NUL
    f"c-7,c7@example.com,{'x' * 101},,\n"  # 10: too long
)
BAD = {3: "email", 4: "time_zone", 5: "client_id", 6: "row", 9: "first_name", 10: "first_name"}


def test_profile_export_rows_and_their_reasons(tmp_path: Path) -> None:
    export = tmp_path / "profiles.csv"
    export.write_text(EXPORT)
    header = read_header(export)
    assert header.ignored == ("signup_date",)
    rows = list(read_profiles(export, header))
    assert {r.line: r.reason.split(":")[0] for r in rows if isinstance(r, BadRow)} == BAD
    good = [r for r in rows if isinstance(r, ProfileRow)]
    assert [(r.line, r.client_id) for r in good] == [(2, "c-1"), (8, "c-5")]
    assert good[0].profile.model_dump(exclude_none=True) == {
        "email": "anna@example.com",
        "first_name": "Anna",
        "time_zone": "Europe/Stockholm",
    }
    assert good[1].profile.model_dump(exclude_none=True) == {"first_name": "Dora"}
    reasons = {r.line: r.reason for r in rows if isinstance(r, BadRow)}
    assert reasons[3] == "email: not an email address"
    assert reasons[9] == "first_name: contains a NUL (U+0000) character"
    # Profiles are personal data: no reason repeats an address, a name or a client id.
    for personal in ("anna.at.example.com", "ada@example.com", "Eve", "xxxx"):
        assert not any(personal in reason for reason in reasons.values()), personal


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("customer,email\nx,a@b.co\n", "the header lacks client_id"),
        ("client_id,segment\nc-1,vip\n", "the header names no profile field"),
    ],
)
async def test_profile_export_unusable_files_stop_before_sending(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "profiles.csv"
    path.write_text(text)
    with pytest.raises(ExportError, match=problem):
        read_header(path)
    # Nothing is needed from Temporal, the settings or the database to refuse the file.
    with pytest.raises(ImportAborted, match=problem):
        await run_profile_import(path, None, None, None)  # type: ignore[arg-type]


def test_profile_export_unreadable_text_stops_with_where(tmp_path: Path) -> None:
    path = tmp_path / "profiles.csv"
    good = "".join(f"c-{i},c{i}@example.com\n" for i in range(5000)).encode()
    path.write_bytes(b"client_id,email\n" + good + b"c-x,\xff@example.com\n")
    header = read_header(path)  # the header is fine; the file breaks further down
    with pytest.raises(ExportError, match=r"after line \d+: not UTF-8 text"):
        list(read_profiles(path, header))
