"""Reading a recording (events, journal, units) and a campaign's results."""
import math
import subprocess

import hermes
from conftest import echo_config, run


def test_recording_tables(tmp_path, hermes_exe):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(echo_config(end_time=0.05))
    rec = tmp_path / "run.h5"
    r = run(hermes_exe, cfg, "--no-server", "--quiet", "--record", str(rec), "--record-signals", "py.*,src.u")
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(rec)) as h:
        assert "py.out" in h and "c.out" not in h and "src.u" in h
        assert h.types["py.out"] == "f64" and h.units["py.out"] == ""
        assert h.data.shape == (len(h.frame), len(h.names))
        assert abs(h.time[-1] - h.frame[-1] / h.meta["rate_hz"]) < 1e-12
        assert h.meta["format"] == "hermes-recording"
        assert isinstance(h.events, list) and isinstance(h.journal, list)
        assert any(e["event"] == "stopped" for e in h.events) or h.events == []


def test_campaign_results(tmp_path, hermes_exe):
    base = tmp_path / "base.yaml"
    base.write_text(echo_config(end_time=0.05))
    camp = tmp_path / "camp.yaml"
    camp.write_text(f"""base: {base}
runs: 3
seed: 7
dispersions:
  - signal: src.u
    uniform: {{low: 1, high: 2}}
outputs:
  final: [py.out, c.out]
""")
    d = tmp_path / "c"
    subprocess.run([hermes_exe, "campaign", "plan", str(camp), str(d)], check=True, capture_output=True)
    for i in range(3):
        r = subprocess.run([hermes_exe, "campaign", "run", str(d), str(i)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    subprocess.run([hermes_exe, "campaign", "collect", str(d)], check=True, capture_output=True)
    rows = hermes.read_results(str(d))
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert 1 <= r["src.u"] <= 2
        assert r["final:py.out"] == r["final:c.out"]
    h5 = hermes.read_results(str(d / "results.h5"))
    assert [r["final:py.out"] for r in h5] == [r["final:py.out"] for r in rows]
    assert [r["status"] for r in h5] == ["ok"] * 3
    assert not any(isinstance(v, float) and math.isnan(v) for v in h5[0].values())
