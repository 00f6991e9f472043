from api.main import serve
from core.process import run_and_exit
from core.settings import Settings

run_and_exit(lambda: serve(Settings()))
