"""Money as integer minor units, by ISO 4217 currency code.

Amounts arrive as decimals and are stored as integers in the currency's minor
unit (cents for USD, yen for JPY, fils for BHD), so sums are exact everywhere.
"""

from __future__ import annotations

from decimal import Decimal

# Active ISO 4217 codes with their minor-unit exponent (2 unless listed otherwise).
_ZERO_DECIMALS = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
_THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_TWO_DECIMALS = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT
    LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN
    NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP
    SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES
    WST XCD XCG YER ZAR ZMW ZWG
    """.split()
)
CURRENCIES = _ZERO_DECIMALS | _THREE_DECIMALS | _TWO_DECIMALS


def exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit."""
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    if currency in _TWO_DECIMALS:
        return 2
    raise ValueError(f"unknown currency code {currency!r}")


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact minor units; raises ValueError when the amount has too many decimals."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {exponent(currency)} decimal places")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))
