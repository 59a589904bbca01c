"""`python -m app.notify`: the standalone outbox dispatcher.

One process runs ``--threads`` dispatch loops; each loop claims a batch (``--batch-size``) and
sends it ``--send-concurrency`` at a time (sends wait on WeChat's network answers, so threads
overlap them). The defaults (one loop sending 16 at a time) were the fastest measured on a
2-core machine (bench/results/notify-latest.md): CPU is the limit there, so more loops only add
contention. Run several processes, on several hosts, for more throughput — they share the work
through the database (FOR UPDATE SKIP LOCKED, leases), never the same row.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from .. import create_app
from ..config import Config
from .dispatcher import DispatchPolicy, default_worker_id, dispatch_once, run_forever

log = logging.getLogger("app.notify")


def _policy(args: argparse.Namespace) -> DispatchPolicy:
    defaults = DispatchPolicy()
    return DispatchPolicy(
        max_attempts=args.max_attempts or defaults.max_attempts,
        base_delay=args.base_delay or defaults.base_delay,
        max_delay=max(args.max_delay or defaults.max_delay, args.base_delay or 0),
        lease_seconds=args.lease_seconds or defaults.lease_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.notify",
                                     description="通知发件箱调度进程 / outbox dispatcher")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="空闲时的轮询间隔（秒）/ idle poll interval in seconds")
    parser.add_argument("--batch-size", type=int, default=50,
                        help="每轮最多领取的通知数 / rows claimed per pass")
    parser.add_argument("--threads", type=int, default=1,
                        help="本进程内并行的调度循环数 / dispatch loops in this process")
    parser.add_argument("--send-concurrency", type=int, default=16,
                        help="每个调度循环同时发出的请求数（默认 16）"
                             " / sends in flight at once per loop")
    parser.add_argument("--worker-id", default=None,
                        help="调度进程标识（默认：主机名:进程号）/ worker id")
    parser.add_argument("--once", action="store_true",
                        help="只发送一轮后退出 / run one pass and exit")
    parser.add_argument("--max-attempts", type=int, default=None,
                        help="每条通知最多尝试次数（默认 8）/ attempts before giving up")
    parser.add_argument("--base-delay", type=float, default=None,
                        help="第一次重试前等待的秒数，之后逐次加倍（默认 30）/ first retry delay")
    parser.add_argument("--max-delay", type=float, default=None,
                        help="重试等待的上限秒数（默认 3600）/ retry delay cap")
    parser.add_argument("--lease-seconds", type=float, default=None,
                        help="领取后多少秒未完成即视为进程中断，由其他进程接手（默认 300）"
                             " / lease of a claimed row")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.interval <= 0 or not 1 <= args.threads <= 64 \
            or not 1 <= args.send_concurrency <= 32 \
            or args.threads * args.send_concurrency > 64:
        parser.error("--batch-size 须 ≥ 1，--interval 须 > 0，--threads 须在 1–64 之间，"
                     "--send-concurrency 须在 1–32 之间，且两者之积不超过 64")
    try:
        policy = _policy(args)
    except ValueError:
        parser.error("重试参数不合理：--max-attempts ≥ 1，--base-delay > 0，"
                     "--max-delay ≥ --base-delay")

    app = create_app(Config.from_env())
    worker_id = args.worker_id or default_worker_id()
    if args.once:
        stats = dispatch_once(app, batch_size=args.batch_size, worker_id=worker_id,
                              policy=policy, send_concurrency=args.send_concurrency)
        print(f"领取 {stats.claimed} 条：已发送 {stats.sent}，待重试 {stats.retried}，"
              f"失败 {stats.failed}，结果未知 {stats.unknown}")
        return

    stop = threading.Event()

    def _stop(*_):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    loops = [threading.Thread(
        target=run_forever, args=(app, stop), name=f"dispatcher-{n}",
        kwargs={"interval": args.interval, "batch_size": args.batch_size,
                "worker_id": f"{worker_id}/{n}", "policy": policy,
                "send_concurrency": args.send_concurrency})
        for n in range(args.threads)]
    for loop in loops:
        loop.start()
    print(f"通知调度进程已启动（{worker_id}，{args.threads} 个调度循环，每个同时发送"
          f" {args.send_concurrency} 条），按 Ctrl+C 停止",
          flush=True)
    for loop in loops:
        loop.join()
    print("通知调度进程已停止")


if __name__ == "__main__":
    main()
