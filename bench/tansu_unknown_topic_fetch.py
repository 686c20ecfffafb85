"""What the local tansu answers to a Fetch (v16, the version librdkafka 2.16 sends) for a topic id it does not
know, as a client that lived through a broker restart sends: ``python -m bench.tansu_unknown_topic_fetch``.
Printed: the partition error, the topic id of the answer (zero), and its tags (1 = CurrentLeader, which librdkafka
turns into a leader update by topic name; top-level 0 = NodeEndpoints). services/runtime/README.md, *Broker loss*."""

import socket
import struct
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from services.runtime.infra import TansuBroker, free_port

def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])

def read_uvarint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]; i += 1
        n |= (b & 0x7F) << shift; shift += 7
        if not b & 0x80: return n, i

def fetch(port, topic_id, partition=0):
    body = struct.pack(">iiib ii", 500, 1, 1 << 20, 0, 0, -1)
    body += uvarint(2) + topic_id  # 1 topic
    body += uvarint(2) + struct.pack(">iiqiqi", partition, 0, 0, -1, -1, 1 << 20) + b"\x00"
    body += b"\x00"  # topic tags
    body += uvarint(1)  # no forgotten topics
    body += uvarint(1)  # rack id ""
    body += b"\x00"
    client = b"probe"
    header = struct.pack(">hhi", 1, 16, 7) + struct.pack(">h", len(client)) + client + b"\x00"
    msg = header + body
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", s.recv(4))[0]
    data = b""
    while len(data) < size:
        data += s.recv(size - len(data))
    s.close()
    return data

def parse(d):
    i = 4  # correlation id
    _, i = read_uvarint(d, i)  # header tags (count)
    throttle, err, sess = struct.unpack_from(">ihi", d, i); i += 10
    print("top error", err)
    n, i = read_uvarint(d, i)
    for _ in range(n - 1):
        tid = d[i:i + 16]; i += 16
        print("topic id", uuid.UUID(bytes=tid), "zero" if tid == b"\0" * 16 else "")
        pn, i = read_uvarint(d, i)
        for _ in range(pn - 1):
            p, perr, hw, lso, lso2 = struct.unpack_from(">ihqqq", d, i); i += 30
            print(" partition", p, "error", perr, "hw", hw)
            an, i = read_uvarint(d, i)
            i += max(0, an - 1) * 16
            i += 4  # preferred read replica
            rn, i = read_uvarint(d, i)
            i += max(0, rn - 1)
            tn, i = read_uvarint(d, i)
            for _ in range(tn):
                tag, i = read_uvarint(d, i); ln, i = read_uvarint(d, i)
                print("  partition tag", tag, d[i:i + ln].hex()); i += ln
        tn, i = read_uvarint(d, i)
        for _ in range(tn):
            tag, i = read_uvarint(d, i); ln, i = read_uvarint(d, i); i += ln
            print(" topic tag", tag)
    tn, i = read_uvarint(d, i)
    for _ in range(tn):
        tag, i = read_uvarint(d, i); ln, i = read_uvarint(d, i)
        print("top tag", tag, "(NodeEndpoints)" if tag == 0 else "", d[i:i + ln].hex()); i += ln

def main() -> None:
    port = free_port()
    broker = TansuBroker(port)
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for future in admin.create_topics([NewTopic("t", 3, 1)]).values():
            future.result(10)
        print("== a topic id the broker does not know")
        parse(fetch(port, uuid.uuid4().bytes))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
