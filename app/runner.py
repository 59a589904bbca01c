"""`make run`: the whole product in one process on the embedded default.

SQLite file in instance/, the in-process Redis stand-in, the local fake WeChat server, demo data,
and web + scheduler + dispatcher together. Production runs the same code as separate processes
(gunicorn app.wsgi:app, python -m scheduler, python -m app.notify) — see docs/deploy.md.
"""
from __future__ import annotations

import os
import signal
import threading

from .config import INSTANCE_DIR, Config


def wants_demo(config: Config, env=os.environ) -> bool:
    """Demo data: loaded in sandbox mode unless DEMO_DATA=0; outside it only asked for with
    DEMO_DATA=1, which is refused (ConfigError) — the demo accounts' password is public."""
    flag = env.get("DEMO_DATA", "")
    if flag == "0":
        return False
    if flag == "1" or config.sandbox:
        from .org.demo import check_demo_allowed

        check_demo_allowed(config)
        return True
    return False


def main() -> None:
    config = Config.from_env()
    demo = wants_demo(config)
    host = os.environ.get("HOST", "127.0.0.1")
    fake = None
    if config.sandbox and not config.wechat_api_base:
        from .wechat.fake import FakeWechat

        fake = FakeWechat(port=int(os.environ.get("FAKE_WECHAT_PORT", "0")))
        fake.start()
        config = config.with_(wechat_api_base=fake.base_url)

    if config.is_sqlite:
        INSTANCE_DIR.mkdir(exist_ok=True)
    from .migrate import upgrade

    upgrade(config.database_url)

    from . import create_app

    app = create_app(config)
    from .topics.similarity import warm_up

    warm_up()  # the Chinese segmenter, before the first "similar suggestions" request
    if demo:
        from .org.demo import seed_demo

        with app.app_context(), app.extensions["db"].session_scope() as session:
            summary = seed_demo(session)
        from .cli import seed_report

        print(seed_report(summary))

    stop = threading.Event()
    from .notify.dispatcher import start_background_dispatcher

    start_background_dispatcher(app, stop)

    from apscheduler.schedulers.background import BackgroundScheduler
    from scheduler.jobs import add_jobs

    sched = BackgroundScheduler(timezone="Asia/Shanghai")
    add_jobs(sched, app)
    sched.start()

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{config.port}"
    mode = "沙箱模式（本地模拟微信）/ sandbox mode (local fake WeChat)" if config.sandbox else "生产模式 / production mode"
    print("\n有事好商量 协商议事平台已启动 / is running")
    print(f"  {mode}")
    for problem in config.warnings():  # incomplete WeChat settings (production refuses them)
        print(f"  !!! 配置不完整 / incomplete setting: {problem}")
    print(f"  健康检查 health:    {base}/healthz")
    print(f"  就绪检查 ready:     {base}/readyz")
    print(f"  接口文档 API docs:  {base}/api/docs")
    print(f"  OpenAPI:            {base}/api/openapi.json")
    if config.sandbox:
        print(f"  公众号聊天演示 chat demo: {base}/sandbox/chat")
    if fake is not None:
        print(f"  模拟微信 fake WeChat: {fake.base_url}")
    print(f"  数据库 database:    {config.database_url}\n")
    if config.sandbox:  # one demo person per role and how to act as each (issue 10 item 18)
        from .org.demo_people import banner

        with app.app_context(), app.extensions["db"].session_scope() as session:
            text = banner(session, base)
        if text:
            print(text + "\n", flush=True)

    def _shutdown(*_):
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _shutdown)
    from werkzeug.serving import run_simple

    try:
        run_simple(host, config.port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        sched.shutdown(wait=False)
        if fake is not None:
            fake.stop()


if __name__ == "__main__":
    from .config import ConfigError

    try:
        main()
    except ConfigError as err:  # a setting is wrong: say which, no traceback
        raise SystemExit(f"配置错误 / configuration error: {err}") from None
