from core.runtime.process import run_and_exit
from core.runtime.settings import Settings
from worker.main import serve

run_and_exit(lambda: serve(Settings()))
