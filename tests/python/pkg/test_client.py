"""The client against a real `hermes run` with its server (port 0, started paused)."""
import re
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
