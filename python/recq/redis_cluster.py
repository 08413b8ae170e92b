"""A local Redis Cluster for the tests and bench/remote_tables.py: masters
and replicas (default 3 + 3) of Debian's redis-server on 127.0.0.1 and
free ports, made with `redis-cli --cluster create`, killed by stop(). Use
it as a context manager, so nothing is left running when a test fails."""

import os
import random
import shutil
import socket
import subprocess
import time


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _ephemeral_low():
    """The lowest port the kernel hands to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count, exclude=()):
    """`count` ports p each with p + 10000 free too (the cluster bus), both
    below the ephemeral range: a port there can be taken by any process's
    outgoing connection between this check and the server's bind (CI saw a
    bus port at 37914 taken so)."""
    high = min(29999, _ephemeral_low() - 10001)
    low = min(12000, high - 1000)
    ports = []
    while len(ports) < count:
        p = random.randint(low, high)
        if p not in ports and p not in exclude and _free(p) and _free(p + 10000):
            ports.append(p)
    return ports


def cli(port, *args, timeout=10):
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=True, timeout=timeout).stdout


class RedisCluster:
    def __init__(self, workdir, masters=3, replicas=1, node_timeout_ms=1500):
        self.dir = str(workdir)
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports = []
        self.procs = {}

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if not shutil.which("redis-server") or not shutil.which("redis-cli"):
            raise RuntimeError("redis-server and redis-cli are not installed "
                               "(Debian: redis-server redis-tools; scripts/setup)")
        self.ports = free_ports(self.masters * (1 + self.replicas))
        for port in self.ports:
            self.start_node(port)
        for i in range(len(self.ports)):
            self.ports[i] = self._started(self.ports[i])
        out = subprocess.run(
            ["redis-cli", "--cluster", "create",
             *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed:\n" + out.stdout + out.stderr)
        self.wait_ok()

    def _started(self, port, tries=3):
        """`port` once its server answers; a server that exits first (its
        port was taken after free_ports looked) is started again on another
        port, up to `tries` times. Returns the port it runs on."""
        for attempt in range(tries):
            proc = self.procs[port]
            end = time.time() + 30
            while time.time() < end and proc.poll() is None:
                try:
                    if cli(port, "ping").strip() == "PONG":
                        return port
                except (subprocess.TimeoutExpired, OSError):
                    pass
                time.sleep(0.1)
            if proc.poll() is None or attempt == tries - 1:
                break
            del self.procs[port]
            port = free_ports(1, exclude=self.ports)[0]
            self.start_node(port)
        raise RuntimeError(f"redis-server on port {port} did not start (its log: "
                           f"{os.path.join(self.dir, str(port), 'log')})")

    def start_node(self, port):
        node_dir = os.path.join(self.dir, str(port))
        os.makedirs(node_dir, exist_ok=True)
        log = open(os.path.join(node_dir, "log"), "a")
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms),
             "--dir", node_dir, "--save", "", "--appendonly", "no",
             # Replicas sync at once (the default waits 5 s), so a failover
             # right after the start has a synced replica to promote.
             "--repl-diskless-sync-delay", "0",
             "--protected-mode", "no", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = {}

    # -- state -------------------------------------------------------------
    @property
    def spec(self):
        return "redis://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:self.masters])

    def alive(self):
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def wait_ok(self, timeout=60):
        """Until every live node says cluster_state:ok and all 16384 slots
        are served, and every replica is in sync with its master."""
        def ok():
            for port in self.alive():
                info = cli(port, "cluster", "info")
                if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                    return False
                replication = cli(port, "info", "replication")
                if "role:slave" in replication and "master_link_status:up" not in replication:
                    return False
            return True
        self._wait(ok, "the cluster did not become ok", timeout)

    def master_ports(self):
        out = cli(self.alive()[0], "cluster", "nodes")
        ports = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) > 2 and "master" in fields[2] and "fail" not in fields[2]:
                ports.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return ports

    def kill(self, port):
        self.procs[port].kill()
        self.procs[port].wait(timeout=10)

    @staticmethod
    def _wait(cond, message, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if cond():
                    return
            except (subprocess.TimeoutExpired, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(message)
