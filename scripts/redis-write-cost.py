#!/usr/bin/env python3
"""Redis's own CPU per last-poll write, by the ways of writing one that
docs/BENCHMARKS.md compares ("What did not help", "A prototype, not
landed"). It talks RESP to a private redis-server on PORT (started and
stopped by the caller), queues FANS fans' last polls in 128-fan hashes as
the gateway does, then writes WRITES last polls in random fan order, in
pipelined batches of BATCH, each way in turn, and prints Redis's
used_cpu_sys + used_cpu_user per write.

  redis-server --port 6399 --save '' --appendonly no --daemonize yes
  python3 scripts/redis-write-cost.py 6399
  redis-cli -p 6399 shutdown nosave
"""
import random
import socket
import sys
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6399
FANS, WRITES, BATCH, ROUNDS = 1_000_000, 200_000, 5_000, 2
SEEN = "tv:wr:{1}:seen"
LUA = """local p, sec = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  local id = tonumber(ARGV[i])
  redis.call('HSET', p .. string.format('%d', math.floor(id / 128)), string.format('%d', id % 128), sec)
end
return #ARGV - 2"""

sock = socket.create_connection(("127.0.0.1", PORT))


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def pipeline(cmds):
    """Sends cmds and reads until every reply's first line is in."""
    sock.sendall(b"".join(cmds))
    buf = b""
    while buf.count(b"\r\n") < len(cmds):
        buf += sock.recv(1 << 20)
    return buf


def redis_cpu():
    sock.sendall(cmd("INFO", "cpu"))
    time.sleep(0.05)
    info = dict(l.split(":", 1) for l in sock.recv(1 << 16).decode().split("\r\n") if ":" in l)
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def hset(per):
    return lambda batch: [cmd("HSET", "%s%d:%d" % (SEEN, per, u // per), u % per, 1) for u in batch]


def lua(sha):
    return lambda batch: [cmd("EVALSHA", sha, 0, SEEN + "128:", 1, *batch[i:i + 256]) for i in range(0, len(batch), 256)]


def bitfield(batch):
    chunks = {}
    for u in batch:
        chunks.setdefault(u >> 15, []).extend(("SET", "u1", u & 32767, 1))
    return [cmd("BITFIELD", "tv:wr:{1}:alive:1:%d" % c, *ops) for c, ops in chunks.items()]


def setbit(batch):
    return [cmd("SETBIT", "tv:wr:{1}:alive:2:%d" % (u >> 15), u & 32767, 1) for u in batch]


def main():
    sha = pipeline([cmd("SCRIPT", "LOAD", LUA)]).split(b"\r\n")[1].decode()
    for per in (128, 32):
        for start in range(0, FANS, BATCH):
            pipeline(hset(per)(range(start, start + BATCH)))
    ways = [("HSET, 128-fan hashes", hset(128)), ("HSET, 32-fan hashes", hset(32)),
            ("one Lua call per 256 fans", lua(sha)), ("BITFIELD per 32768 fans and batch", bitfield),
            ("SETBIT one by one", setbit)]
    for r in range(ROUNDS):
        ids = [random.randrange(FANS) for _ in range(WRITES)]
        for name, build in ways:
            before = redis_cpu()
            for start in range(0, WRITES, BATCH):
                pipeline(build(ids[start:start + BATCH]))
            print("round %d  %-36s %.2f us of Redis a write" % (r + 1, name, (redis_cpu() - before) / WRITES * 1e6))


main()
