"""`python -m train.reduce_range NAME...`: a shipped int8 encoder's weights in 7 bits, in place.

Why: ONNX Runtime multiplies a dynamically quantized activation (uint8) by an int8 weight with
instructions that differ by CPU. With AVX-512 VNNI the products are summed exactly; on AVX2 and
AVX-512 without VNNI (most district laptops) pairs of products are summed in 16 bits first and
saturate (255 x 127 x 2 > 32,767), so the same post scores differently from machine to machine
and a threshold chosen on one misfires on another. With weights in [-64, 63] a pair can no longer
saturate (255 x 64 x 2 < 32,767), so every CPU computes the same integers: ONNX Runtime's
`reduce_range` (what `train.neural.export_int8` now passes). This converts an already exported
model without its float weights: each MatMulInteger weight q becomes round(q / 2) and its scale
doubles (per output channel, zero point 0). Calibrate afterwards, as after any export.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from checker.textmodel import MODELS_DIR


def reduce_range(name: str) -> int:
    """Halve the int8 weights of checker/models/<name>.onnx; the number of weights converted."""
    import onnx
    from onnx import numpy_helper

    path = MODELS_DIR / f"{name}.onnx"
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    done: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or node.input[1] in done or node.input[1] not in inits:
            continue
        wname = node.input[1]
        w = numpy_helper.to_array(inits[wname])
        zp = numpy_helper.to_array(inits[node.input[3]]) if len(node.input) > 3 else np.zeros(1)
        sname = wname.removesuffix("_quantized") + "_scale"
        if w.dtype != np.int8 or np.any(zp != 0) or sname not in inits:
            raise ValueError(f"{path.name}: {wname} is not a symmetric int8 weight with a scale")
        if np.abs(w).max() <= 64:
            raise ValueError(f"{path.name}: {wname} is already in 7 bits")
        scale = numpy_helper.to_array(inits[sname])
        inits[wname].CopyFrom(numpy_helper.from_array(np.clip(np.round(w / 2), -64, 63).astype(np.int8), wname))
        inits[sname].CopyFrom(numpy_helper.from_array((scale * 2).astype(scale.dtype), sname))
        done.add(wname)
    if not done:
        raise ValueError(f"{path.name}: no MatMulInteger weights")
    onnx.save(model, str(path))
    return len(done)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.reduce_range", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+", help="model names under checker/models (neural, judgment, ...)")
    args = ap.parse_args(argv)
    for name in args.names:
        print(f"{name}: {reduce_range(name)} weights in 7 bits", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
