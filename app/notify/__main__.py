"""`python -m app.notify`: the standalone outbox dispatcher (run several for throughput)."""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from .. import create_app
from ..config import Config
from .dispatcher import default_worker_id, dispatch_once, run_forever

log = logging.getLogger("app.notify")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.notify",
                                     description="通知发件箱调度进程 / outbox dispatcher")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="空闲时的轮询间隔（秒）/ idle poll interval in seconds")
    parser.add_argument("--batch-size", type=int, default=50,
                        help="每轮最多领取的通知数 / rows claimed per pass")
    parser.add_argument("--worker-id", default=None,
                        help="调度进程标识（默认：主机名:进程号）/ worker id")
    parser.add_argument("--once", action="store_true",
                        help="只发送一轮后退出 / run one pass and exit")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.interval <= 0:
        parser.error("--batch-size 须 ≥ 1，--interval 须 > 0")

    app = create_app(Config.from_env())
    worker_id = args.worker_id or default_worker_id()
    if args.once:
        stats = dispatch_once(app, batch_size=args.batch_size, worker_id=worker_id)
        print(f"领取 {stats.claimed} 条：已发送 {stats.sent}，待重试 {stats.retried}，"
              f"失败 {stats.failed}，结果未知 {stats.unknown}")
        return

    stop = threading.Event()

    def _stop(*_):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"通知调度进程已启动（{worker_id}），按 Ctrl+C 停止")
    run_forever(app, stop, interval=args.interval, batch_size=args.batch_size,
                worker_id=worker_id)
    print("通知调度进程已停止")


if __name__ == "__main__":
    main()
