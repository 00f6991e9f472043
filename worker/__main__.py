from core.process import run_and_exit
from core.settings import Settings
from worker.main import serve

run_and_exit(lambda: serve(Settings()))
