"""A cap in bytes on what a test or answer cell stores (nbgrader's LimitOutput counts lines).

`print("x" * 10**8)` is one line: LimitOutput keeps it, and the autograded notebook and the
feedback page would each weigh 100 MB. `CapOutputBytes` runs after LimitOutput in
`c.Autograde.autograde_preprocessors` and cuts every text field of every output (stream text,
error values and tracebacks, text/html/plain and base64 images of displays) to `max_bytes`,
keeping its beginning and end with a note of how much was cut.
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

NOTE = "\n... [{cut:,} bytes of output cut: at most {limit:,} are kept per output] ...\n"


def cap_text(text: str, limit: int) -> str:
    """`text` if it fits in `limit` bytes (UTF-8), else its head and tail around a note."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    head, tail = data[: limit * 3 // 4], data[-(limit // 4):]
    cut = len(data) - len(head) - len(tail)
    return (head.decode("utf-8", "ignore") + NOTE.format(cut=cut, limit=limit)
            + tail.decode("utf-8", "ignore"))


def _cap(value, limit: int):
    if isinstance(value, str):
        return cap_text(value, limit)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        joined = "".join(value)
        return value if len(joined.encode("utf-8", "replace")) <= limit else [cap_text(joined, limit)]
    return value


class CapOutputBytes(NbGraderPreprocessor):
    """Cut each text field of each output to `max_bytes`."""

    max_bytes = Integer(100_000, help="bytes kept per text field of an output").tag(config=True)
    max_image_bytes = Integer(2_000_000, help="bytes kept per image (larger ones are dropped)").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _cap(output["text"], self.max_bytes)
            if "evalue" in output:
                output["evalue"] = cap_text(output["evalue"], self.max_bytes)
            if "traceback" in output:
                output["traceback"] = [cap_text(t, self.max_bytes) for t in output["traceback"]][:200]
            data = output.get("data", {})
            for mime in list(data):
                if mime.startswith("image/"):
                    size = len(data[mime]) if isinstance(data[mime], str) else 0
                    if size > self.max_image_bytes:
                        data.pop(mime)
                        data.setdefault("text/plain", f"[an image of {size:,} bytes was dropped]")
                else:
                    data[mime] = _cap(data[mime], self.max_bytes)
        return cell, resources
