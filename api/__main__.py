from api.main import loop_factory, serve
from core.runtime.process import run_and_exit
from core.runtime.settings import Settings

run_and_exit(lambda: serve(Settings()), loop_factory=loop_factory())
