"""Hub upload benchmark: N clients upload ~50 MB packages concurrently to a real hub on loopback.

Prints the aggregate upload rate (MB/s, from the first byte sent until every report is registered)
beside a plain local copy of the same archive bytes measured in the same run (target: at least 50 %
of it), and the p50/p99 latency of ``/collections/{id}/items`` polled while the uploads run.

    python benchmarks/hub_bench.py                      # 20 clients x 50 MB, SQLite
    python benchmarks/hub_bench.py --database-url postgresql://postgres@127.0.0.1:55432/postgres --workers 2

Only loopback addresses are used; every loop is bounded.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.hub import (
    EVENT_ID,
    LiveHub,
    _drop_pg_database,
    _new_pg_database,
    free_port,
    make_package,
    seed_hub,
)

from uavops.hub.client import Outbox, UploadClient
from uavops.hub.config import HubConfig
from uavops.hub.service import HubService


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--size-mb", type=float, default=50.0, help="approximate package size")
    ap.add_argument("--chunk-mb", type=float, default=8.0)
    ap.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server URL; the benchmark creates (and drops) its own database there",
    )
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    if not 1 <= args.clients <= 64 or not 0.1 <= args.size_mb <= 500:
        ap.error("keep --clients within 1..64 and --size-mb within 0.1..500")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="uavops-hub-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    server_url = args.database_url
    if server_url:
        args.database_url = _new_pg_database(server_url)
    try:
        # ---- data: one distinct package per client, from its own organisation
        side_px = int((args.size_mb * 1e6 / 3 / (4 / 3)) ** 0.5)  # RGB bytes plus ~1/3 for overviews
        data_dir = work / "hub"
        svc = HubService(HubConfig(data_dir=data_dir, database_url=args.database_url))
        seed = seed_hub(svc)
        tokens = {}
        for i in range(args.clients):
            code = f"KG-BENCH{i:02d}"
            svc.add_org(code, f"Bench authority {i}", "KG")
            tokens[code] = svc.create_token(code, "operator")["token"]
        svc.close()
        t0 = time.perf_counter()
        entries = {}
        for i, code in enumerate(tokens):
            pkg = make_package(work / "pkgs" / code, producer=code, tag=code, mosaic_px=side_px, seed=i)
            entries[code] = Outbox(work / "outbox" / code).enqueue(pkg)
            shutil.rmtree(pkg)
        total_bytes = sum(e.size_bytes for e in entries.values())
        print(
            f"prepared {args.clients} packages, {total_bytes / 1e6:.0f} MB in total "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )

        # ---- baseline: a plain local copy of the same bytes, same disk, same run
        copy_dir = work / "copy"
        copy_dir.mkdir()
        t0 = time.perf_counter()
        for code, e in entries.items():
            shutil.copyfile(e.archive, copy_dir / f"{code}.tar")
        copy_s = time.perf_counter() - t0
        shutil.rmtree(copy_dir)
        copy_mbps = total_bytes / 1e6 / copy_s

        # ---- hub on loopback
        live = LiveHub(data_dir, args.database_url, free_port(), args.workers, tokens=seed)
        live.start()
        try:
            latencies: list[float] = []
            done = threading.Event()
            coord = {"Authorization": f"Bearer {seed['coord']}"}

            def poll() -> None:
                with httpx.Client(base_url=live.url, headers=coord, timeout=60) as http:
                    for _ in range(100_000):  # bounded; stops when the uploads finish
                        if done.is_set():
                            return
                        t = time.perf_counter()
                        r = http.get(f"/collections/{EVENT_ID}/items", params={"limit": 100})
                        latencies.append(time.perf_counter() - t)
                        r.raise_for_status()
                        time.sleep(0.02)

            results: dict[str, object] = {}

            def send(code: str) -> None:
                try:
                    with UploadClient(
                        live.url,
                        tokens[code],
                        chunk_bytes=int(args.chunk_mb * (1 << 20)),
                        backoff_s=0.2,
                        max_retries=10,
                    ) as c:
                        results[code] = c.send(entries[code])
                except Exception as exc:  # noqa: BLE001 - reported below
                    results[code] = exc

            poller = threading.Thread(target=poll, daemon=True)
            threads = [threading.Thread(target=send, args=(code,)) for code in tokens]
            poller.start()
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=1800)
            upload_s = time.perf_counter() - t0
            done.set()
            poller.join(timeout=60)
            failed = {k: v for k, v in results.items() if isinstance(v, Exception)}
            with httpx.Client(base_url=live.url, headers=coord, timeout=60) as http:
                n_reports = len(http.get("/reports").json())
        finally:
            live.stop()

        hub_mbps = total_bytes / 1e6 / upload_s
        lat = sorted(latencies)
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        print(
            f"backend                 : {'PostgreSQL' if args.database_url else 'SQLite'}, "
            f"{args.workers} worker(s), local blobs"
        )
        print(
            f"uploads                 : {args.clients} clients x {total_bytes / args.clients / 1e6:.1f} MB, "
            f"{len(results) - len(failed)} ok, {len(failed)} failed, {n_reports} reports"
        )
        print(
            f"hub upload throughput   : {hub_mbps:8.1f} MB/s  ({upload_s:.1f} s, incl. validation + registration)"
        )
        print(f"plain local file copy   : {copy_mbps:8.1f} MB/s  ({copy_s:.2f} s)")
        print(f"ratio                   : {100 * hub_mbps / copy_mbps:8.1f} %  (target >= 50 %)")
        print(
            f"/items latency under load: p50 {1000 * statistics.median(lat):.0f} ms, p99 {1000 * p99:.0f} ms "
            f"({len(lat)} requests)"
        )
        for code, exc in list(failed.items())[:3]:
            print(f"  failure {code}: {exc}")
        return 0 if not failed else 1
    finally:
        if server_url:
            _drop_pg_database(server_url, args.database_url)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
