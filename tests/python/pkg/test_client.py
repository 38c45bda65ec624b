"""The client against a real `hermes run` with its server (port 0, started paused)."""
import os
import re
import struct
import subprocess
import time

import pytest

import hermes
from conftest import echo_config


class Run:
    def __init__(self, hermes_exe, tmp_path, **kw):
        cfg = tmp_path / "run.yaml"
        cfg.write_text(echo_config(end_time=1000.0, server=True, **kw).replace("mode: afap", "mode: realtime"))
        self.p = subprocess.Popen([hermes_exe, "run", str(cfg), "--paused"], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        self.log = []
        while time.monotonic() < deadline:
            line = self.p.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"event=listening .*port=(\d+)", line)
            if m:
                self.url = f"ws://127.0.0.1:{m.group(1)}/"
                return
        self.stop()
        raise AssertionError("no listening line: " + "".join(self.log))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture
def live(hermes_exe, tmp_path):
    r = Run(hermes_exe, tmp_path)
    yield r
    r.stop()


def test_schema_and_frames(live):
    with hermes.Client(live.url) as c:
        s = c.schema
        assert s.state == "paused" and s.role == "controller"
        assert s.signals["py.out"].module == "py" and s.signals["py.out"].type == "f64"
        assert s.signals["src.u"].writable and not s.signals["py.out"].writable
        assert [x.name for x in s.modules["c"].signals][:2] == ["c.in", "c.out"]
        names = c.subscribe(["py.*", "c.out", "c.steps"])
        assert names[0] == "py.in" and "c.out" in names
        ack = c.step(5)
        assert ack["frame"] == 5
        f = c.next_frame()
        deadline = time.monotonic() + 10
        while f.frame < 5 and time.monotonic() < deadline:
            f = c.next_frame()
        assert f.frame == 5
        assert f["py.out"] == f["c.out"] == 3.0 + 4
        assert f["py.steps"] == f["c.steps"] == 5
        assert f.array()[names.index("py.out")] == 7.0
        assert f.as_dict()["py.last_frame"] == 4


def bits(v):
    return format(struct.unpack("<Q", struct.pack("<d", v))[0], "016x")


def test_frames_equal_to_c_client(live):
    """The Python client and a C client (tests/frame_client.c, the library's decoder)
    subscribed to the same signals of a paused run stepped by the Python client:
    the same frame numbers carry the same time and values, bit for bit."""
    port = live.url.rsplit(":", 1)[1].strip("/")
    patterns = ["py.*", "c.out", "src.u"]
    targets = [3, 7, 12]
    cc = subprocess.Popen([os.environ["FRAME_CLIENT"], port, "30", str(targets[-1]), *patterns],
                          stdout=subprocess.PIPE, text=True)
    try:
        names_line = cc.stdout.readline().split()  # bounded: the C client gives up after 30 s
        assert names_line[:1] == ["names"], names_line
        c_frames = {}
        with hermes.Client(live.url) as c:
            assert c.subscribe(patterns) == names_line[1:]
            c.set("src.u", 0.1)  # values with all their mantissa bits in use
            py_frames = {}
            for target in targets:
                c.step(target - max(py_frames, default=0))
                deadline = time.monotonic() + 10
                while target not in py_frames and time.monotonic() < deadline:
                    f = c.next_frame()
                    py_frames[f.frame] = [bits(f.time)] + [bits(v) for v in f.values]
                assert target in py_frames
                while target not in c_frames:  # the C client's own 30 s bound ends this loop
                    line = cc.stdout.readline().split()
                    assert line, f"the C client ended before frame {target}"
                    c_frames[int(line[1])] = line[2:]
        assert cc.wait(10) == 0
        for fr in targets:
            assert py_frames[fr] == c_frames[fr], f"frame {fr}"
        assert py_frames[12][1 + names_line[1:].index("py.out")] == bits(0.1 * 2.0 + 11)
        common = set(py_frames) & set(c_frames)
        assert all(py_frames[fr] == c_frames[fr] for fr in common)
    finally:
        if cc.poll() is None:
            cc.kill()
        cc.wait()


def test_commands_and_errors(live):
    with hermes.Client(live.url) as c:
        assert c.set("src.u", 2.0)["value"] == 2.0
        c.step(1)
        c.subscribe(["py.out"])
        assert c.resume()["state"] == "running"
        assert c.pause()["state"] == "paused"
        assert c.reset()["frame"] == 0
        c.subscribe(["py.resets", "c.resets", "py.stages", "c.stages"])
        c.step(2)
        f = c.next_frame()
        deadline = time.monotonic() + 10
        while f.frame < 2 and time.monotonic() < deadline:
            f = c.next_frame()
        assert f["py.resets"] == f["c.resets"] == 1
        assert f["py.stages"] == f["c.stages"] == 2
        with pytest.raises(hermes.CommandError) as e:
            c.set("py.out", 1.0)
        assert "read-only" in e.value.message and e.value.action == "set"
        with pytest.raises(hermes.CommandError) as e:
            c.set("nope.x", 1.0)
        assert "unknown signal" in e.value.message
        with pytest.raises(hermes.CommandError) as e:
            c.step(0)
        assert "count" in e.value.message
        with pytest.raises(hermes.CommandError) as e:
            c.subscribe(["ghost.*"])
        c.resume()
        with pytest.raises(hermes.CommandError) as e:
            c.step(1)
        assert e.value.code == "HERMES_ESTATE"
        assert c.stats()["subscribed"] >= 1
        assert any(ev["event"] == "reset" for ev in c.events)


def test_observer_refused(hermes_exe, tmp_path):
    r = Run(hermes_exe, tmp_path, token="s3cret-0123456789abcdef", observers=True)
    try:
        with hermes.Client(r.url) as c:
            assert c.role == "observer"
            c.subscribe(["py.out"])
            with pytest.raises(hermes.CommandError) as e:
                c.pause()
            assert "observer" in e.value.message
        with hermes.Client(r.url, token="s3cret-0123456789abcdef") as c:
            assert c.role == "controller"
            c.step(1)
    finally:
        r.stop()


def test_decode_frame_rejects_garbage():
    with pytest.raises(ValueError):
        hermes.decode_frame(b"\x00" * 30)
    import struct
    buf = struct.pack("<IQdI2d", 0x48455254, 7, 0.07, 2, 1.0, 2.0)
    assert hermes.decode_frame(buf) == (7, 0.07, (1.0, 2.0))
