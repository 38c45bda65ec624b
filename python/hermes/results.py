"""Results: recordings (docs/recording.md, layout 2) and campaign results, over h5py."""
import csv
import os
from typing import Any, Dict, List, Optional


def _s(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


class Recording:
    """A Hermes recording (HDF5, layout 2; layout 1 files too, they have the same /data).

        rec = hermes.Recording("run.h5")
        rec["vehicle.position.altitude"]   # numpy array, one value per row
        rec.time, rec.frame, rec.units["vehicle.speed"], rec.events, rec.journal, rec.meta
    """

    def __init__(self, path: str, swmr: bool = False) -> None:
        import h5py
        self.path = path
        self._f = h5py.File(path, "r", libver="latest", swmr=True) if swmr else h5py.File(path, "r")
        sig = self._f["signals"][()]
        self.names: List[str] = [_s(n) for n in sig["name"]]
        self.types: Dict[str, str] = {n: _s(t) for n, t in zip(self.names, sig["type"])}
        self.units: Dict[str, str] = {n: _s(u) for n, u in zip(self.names, sig["unit"])}
        self._col = {n: i for i, n in enumerate(self.names)}
        self.meta: Dict[str, Any] = {k: (_s(v) if isinstance(v, bytes) else v) for k, v in self._f.attrs.items()}

    def _key(self, name: str) -> int:
        if name in self._col:
            return self._col[name]
        alt = name.replace("/", ".", 1)  # layout 1 spelling module/signal
        if alt in self._col:
            return self._col[alt]
        raise KeyError(f"{self.path}: no recorded signal '{name}'")

    def __getitem__(self, name: str):
        return self._f["data"][:, self._key(name)]

    def __contains__(self, name: str) -> bool:
        try:
            self._key(name)
            return True
        except KeyError:
            return False

    @property
    def data(self):
        """All values: float64 [rows, signals], column k is self.names[k]."""
        return self._f["data"][()]

    @property
    def time(self):
        return self._f["time"][()]

    @property
    def frame(self):
        return self._f["frame"][()]

    @property
    def tick(self):
        return self._f["tick"][()]

    def _table(self, name: str) -> List[Dict[str, Any]]:
        if name not in self._f:
            return []
        t = self._f[name][()]
        return [{k: _s(row[k]) if isinstance(row[k], bytes) else row[k].item() for k in t.dtype.names}
                for row in t]

    @property
    def events(self) -> List[Dict[str, Any]]:
        return self._table("events")

    @property
    def journal(self) -> List[Dict[str, Any]]:
        return self._table("journal")

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_results(path: str) -> List[Dict[str, Any]]:
    """A campaign's results as a list of rows (dicts keyed by the CSV column names):
    results.csv (numbers as int/float where they parse), or results.h5 (docs/campaigns.md;
    NaN where the CSV is empty). A directory means its results.csv."""
    if os.path.isdir(path):
        path = os.path.join(path, "results.csv")
    if path.endswith(".h5"):
        import h5py
        with h5py.File(path, "r") as f:
            cols = [_s(c) for c in f.attrs["columns"]]
            data = {c: f[c][()] for c in cols}
        n = len(data[cols[0]]) if cols else 0
        return [{_csv_name(c): _s(data[c][i]) if isinstance(data[c][i], bytes) else data[c][i].item()
                 for c in cols} for i in range(n)]
    rows: List[Dict[str, Any]] = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: _num(v) for k, v in r.items()})
    return rows


def _num(v: Optional[str]) -> Any:
    if v is None or v == "":
        return v
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def _csv_name(dataset: str) -> str:
    """results.h5 dataset final/SIGNAL is the CSV column final:SIGNAL."""
    for k in ("final/", "min/", "max/"):
        if dataset.startswith(k):
            return k[:-1] + ":" + dataset[len(k):]
    return dataset
