"""Helpers of the fault, secrets, memory and concurrency suites (issue 5):
private emulator instances, a long-lived psql session, TCP listeners that
refuse, reset, stall or come up late, and the server log.

Standard library only.  Used with fixtures.py, inside pg_virtualenv.
"""
import os
import queue
import re
import socket
import struct
import subprocess
import threading
import time

from fixtures import psql

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator", "wix_emulator.py")


# -- emulators ---------------------------------------------------------------

class EmulatorProcess:
    """A private emulator instance (so that faults, hung requests and the
    request log of one suite do not reach another)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(["python3", EMULATOR, "--port", "0"] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self._port = None

    @property
    def port(self):
        if self._port is None:
            line = self.proc.stdout.readline()
            digits = re.sub(r"\D", "", line)
            if not digits:
                raise RuntimeError("emulator did not start (%r)" % line)
            self._port = int(digits)
        return self._port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


# -- a long-lived psql session -------------------------------------------------

class Result:
    def __init__(self, rows, stderr, elapsed):
        self.rows = rows
        self.stderr = stderr
        self.elapsed = elapsed

    @property
    def error(self):
        """The first ERROR line ("ERROR:  SQLSTATE: message"), or None."""
        for line in self.stderr.splitlines():
            if line.startswith("ERROR:"):
                return line
        return None

    @property
    def sqlstate(self):
        m = re.match(r"ERROR:\s+([0-9A-Z]{5}):", self.error or "")
        return m.group(1) if m else None


class Session:
    """One psql process, so one backend, fed statement by statement.

    run() sends SQL, waits for it to finish and returns a Result with the
    output rows (tab separated), everything psql wrote to stderr (errors in
    VERBOSITY verbose, notices, debug messages) and the wall time.  An error
    does not end the session (ON_ERROR_STOP is off)."""

    def __init__(self, db, user=None, env=None):
        cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-d", db,
               "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose"]
        if user:
            cmd += ["-U", user]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=full_env)
        self.out = queue.Queue()
        self.err = queue.Queue()
        self.pumps = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            t = threading.Thread(target=self._pump, args=(stream, q), daemon=True)
            t.start()
            self.pumps.append(t)
        self.n = 0
        self.run("\\set VERBOSITY verbose")
        self.pid = int(self.run("SELECT pg_backend_pid()").rows[0][0])

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _until(self, q, marker, deadline):
        lines = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("psql session did not answer in time")
            try:
                line = q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("psql session ended: %s" % "\n".join(lines))
            if line == marker:
                return lines
            lines.append(line)

    def run(self, sql, timeout=120):
        self.n += 1
        marker = "__wixfault_done_%d__" % self.n
        t0 = time.monotonic()
        sql = sql.rstrip()
        last = sql.splitlines()[-1].strip() if sql else ""
        if last and not last.startswith("\\") and not sql.endswith(";"):
            sql += ";"
        self.proc.stdin.write(sql + "\n\\echo %s\n\\warn %s\n" % (marker, marker))
        self.proc.stdin.flush()
        deadline = t0 + timeout
        out = self._until(self.out, marker, deadline)
        elapsed = time.monotonic() - t0
        err = self._until(self.err, marker, deadline)
        rows = [line.split("\t") for line in out if line != ""]
        return Result(rows, "\n".join(err), elapsed)

    def value(self, sql):
        res = self.run(sql)
        if res.error:
            raise AssertionError("%s failed: %s" % (sql, res.stderr))
        return res.rows[0][0] if res.rows else None

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\\q\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for t in self.pumps:
            t.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


# -- TCP listeners ---------------------------------------------------------------

def free_port():
    """A loopback port nothing listens on (connections to it are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pump_bytes(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def _read_request(conn, timeout=5):
    """Read one HTTP request (headers and Content-Length body)."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return data


class Proxy:
    """A loopback TCP listener in front of the emulator.

    delay: seconds before it starts listening (connections are refused
      until then).
    reset_first: that many connections read one whole request and are then
      reset (RST) without an answer: the request reached "Wix", the client
      sees a dropped connection.
    Every other connection is forwarded to target_port."""

    def __init__(self, target_port, delay=0.0, reset_first=0):
        self.target_port = target_port
        self.port = free_port()
        self.reset_left = reset_first
        self.connections = 0
        self.reset_requests = 0
        self.listening = threading.Event()
        self.closed = False
        self.sock = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, args=(delay,), daemon=True)
        self.thread.start()
        if delay <= 0:
            self.listening.wait(5)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _serve(self, delay):
        time.sleep(delay)
        if self.closed:
            return
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.sock = s
        self.listening_at = time.monotonic()
        self.listening.set()
        while not self.closed:
            try:
                conn, _ = s.accept()
            except OSError:
                break
            with self.lock:
                self.connections += 1
                reset = self.reset_left > 0
                if reset:
                    self.reset_left -= 1
            if reset:
                threading.Thread(target=self._reset, args=(conn,), daemon=True).start()
            else:
                threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _reset(self, conn):
        try:
            if _read_request(conn):
                with self.lock:
                    self.reset_requests += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.close()

    def _forward(self, conn):
        try:
            up = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            conn.close()
            return
        up.settimeout(None)
        conn.settimeout(None)
        threading.Thread(target=_pump_bytes, args=(up, conn), daemon=True).start()
        _pump_bytes(conn, up)

    def close(self):
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class Blackhole:
    """A loopback port whose accept queue is full, so a connect() to it
    neither succeeds nor is refused: it hangs until the client gives up."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.1)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()


# -- the server log, processes, sockets ------------------------------------------

def server_log_path():
    """The file the cluster logs to: pg_current_logfile() when the logging
    collector runs, else the log file pg_lsclusters shows for this cluster's
    data directory (pg_virtualenv: /var/log/postgresql/... as root, or its
    temporary directory with -t)."""
    current = psql("SELECT coalesce(pg_current_logfile(), '-')")[0][0]
    data_dir = psql("SHOW data_directory")[0][0]
    if current != "-":
        return current if current.startswith("/") else os.path.join(data_dir, current)
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 7 and os.path.realpath(fields[5]) == os.path.realpath(data_dir):
            return fields[6]
    raise RuntimeError("cannot find the server log of %s" % data_dir)


def proc_status_kb(pid, key):
    """A figure in kB of /proc/<pid>/status: VmRSS, VmHWM (the peak), ..."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for %d" % (key, pid))


def rss_kb(pid):
    return proc_status_kb(pid, "VmRSS")


def _socket_inodes(pid):
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    return inodes


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def _tcp_sockets():
    """Every TCP socket of the machine: (local port, remote port, state
    code, inode)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            yield (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16),
                   fields[3], fields[9])


def tcp_connections(remote_port):
    """Every TCP socket whose remote end is remote_port: (inode, state)."""
    return [(inode, TCP_STATES.get(state, state))
            for _, rport, state, inode in _tcp_sockets() if rport == remote_port]


def local_connections(port):
    """The state codes of the sockets whose local port is port (a server's
    side of its connections; its listening socket left out)."""
    return [state for lport, _, state, _ in _tcp_sockets() if lport == port and state != "0A"]


def sockets_of(pid, remote_port):
    """The TCP sockets process pid holds to remote_port: a list of states."""
    mine = _socket_inodes(pid)
    return [state for inode, state in tcp_connections(remote_port) if inode in mine]
