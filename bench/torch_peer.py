#!/usr/bin/env python3
"""PyTorch peer for the itscam CUDA engine.

What it measures: the GPU time of one forward pass of an ONNX model (e.g. the Ultralytics YOLO11n export) run by
PyTorch on the same GPU, per batch size: eager mode and CUDA-graph replay (median and p90 over --iters replays after
--warmup replays, timed with CUDA events around each replay), reported as ms/batch and images/s.

Why it is a fair peer:
  * Same graph. This file is a small ONNX interpreter: it executes the exported graph node by node with the stock
    torch operators (conv2d, max_pool2d, interpolate, softmax, matmul, ...). Nothing is re-modelled, fused or pruned
    by hand; only nodes whose inputs are all constants are folded once at load (shape arithmetic, anchors), and nodes
    that do not reach an output are dropped. Both engines get exactly the same math.
  * Same precision. Weights and activations are fp16 (--dtype fp16); TF32 is disabled so --dtype fp32 is real fp32.
  * No Python or launch overhead in the headline figure: one forward is captured into a torch.cuda.CUDAGraph and
    replayed, so what is timed is the GPU executing the kernels cuDNN/cuBLAS chose.
  * cuDNN picks its algorithms (torch.backends.cudnn.benchmark = True) and both memory layouts are tried
    (--channels-last auto: NCHW and NHWC, the faster one per batch is reported).

Batch size: the input's first dimension is rebound to each --batch value. The Ultralytics export bakes the batch into
some Reshape targets (e.g. (1, 2, 128, 400) in the attention block, (1, 64, -1) in the head). Rule applied here: when
the runtime batch differs from the exported one, a Reshape whose target's first element equals the exported batch,
applied to data whose first dimension is the runtime batch, gets that first element replaced by the runtime batch.
Other ops (Expand, ConstantOfShape, ...) are not rewritten; dynamic-batch exports need no rewriting at all.

Integer tensors (shapes, indices) stay on the host as CPU tensors; shape-like inputs (Reshape target, Slice bounds,
Split sizes, Resize scales, ...) are read as Python lists, so capture never needs a device->host sync.

Reference figures from an earlier run of this peer on an H200 (YOLO11n 640, fp16, CUDA graph): batch 1: 1.30 ms;
batch 64: 4,648 images/s.

Examples:
  python3 bench/torch_peer.py --model ../shared/models/yolo11n.onnx --batch 1,8,32,64,128 --json runs/torch_peer.json
  python3 bench/torch_peer.py --model ../shared/models/yolo11n.onnx --check --batch 1
"""
import argparse, functools, json, os, sys
from collections import namedtuple

import numpy as np


def die(msg):
    print(f"torch_peer: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError:
    die("the 'onnx' python package is required (pip install onnx)")
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    die("PyTorch is required (pip install torch)")

Ctx = namedtuple("Ctx", "opset dtype device batch export_batch")
OPS = {}
# Inputs that describe shapes/indices/scales: read as Python lists (resolved at load time when constant).
STATIC = {"Reshape": (1,), "Slice": (1, 2, 3, 4), "Split": (1,), "Resize": (1, 2, 3), "Upsample": (1,),
          "Expand": (1,), "Tile": (1,), "Unsqueeze": (1,), "Squeeze": (1,), "ConstantOfShape": (0,), "Clip": (1, 2),
          "Range": (0, 1, 2)}
ONNX_INT = {2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32, 7: torch.int64, 9: torch.bool}
ONNX_FLOAT = {1, 10, 11, 16}


def op(*names):
    def reg(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return reg


def to_torch(arr):
    arr = np.asarray(arr)
    if arr.dtype in (np.float16, np.float64):
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.array(arr, copy=True))


class Node:
    def __init__(self, p):
        self.op, self.name = p.op_type, p.name or p.output[0]
        self.inputs, self.outputs = list(p.input), list(p.output)
        self.attrs = {}
        for a in p.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [s.decode() for s in v]
            elif isinstance(v, onnx.TensorProto):
                v = to_torch(numpy_helper.to_array(v))
            self.attrs[a.name] = v
        self.static = {}  # input index -> python value, for constant shape-like inputs

    def a(self, key, default=None):
        return self.attrs.get(key, default)


def S(n, xs, i):
    """Value of shape-like input i as a Python list/scalar, or None when absent."""
    if i in n.static:
        return n.static[i]
    if i >= len(xs) or xs[i] is None:
        return None
    if xs[i].is_cuda:
        raise NotImplementedError(f"input {i} of {n.op} is computed on the GPU; it must be a host-side shape")
    return xs[i].tolist()


_XFER = {}  # cached host->device copies of constant tensors (a copy from pageable memory cannot be captured)


def like(t, ref):
    """t on ref's device (floats also in ref's dtype)."""
    dtype = ref.dtype if (t.is_floating_point() and ref.is_floating_point()) else t.dtype
    if t.device == ref.device:
        return t if t.dtype == dtype else t.to(dtype)
    key = (id(t), ref.device, dtype)
    if key not in _XFER:
        _XFER[key] = (t, t.to(ref.device, dtype))
    return _XFER[key][1]


def aligned(a, b):
    if b.is_cuda and not a.is_cuda:
        return like(a, b), b
    return a, like(b, a)


def _binary(fn):
    return lambda n, xs, ctx: fn(*aligned(xs[0], xs[1]))


def _div(a, b):
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


for _name, _fn in {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": _div, "Pow": torch.pow,
                   "Equal": torch.eq, "Greater": torch.gt, "Less": torch.lt, "And": torch.logical_and,
                   "Or": torch.logical_or, "Mod": torch.remainder}.items():
    OPS[_name] = _binary(_fn)
for _name, _fn in {"Sigmoid": torch.sigmoid, "Relu": torch.relu, "Tanh": torch.tanh, "Exp": torch.exp,
                   "Log": torch.log, "Sqrt": torch.sqrt, "Neg": torch.neg, "Abs": torch.abs, "Floor": torch.floor,
                   "Ceil": torch.ceil, "Erf": torch.erf, "Reciprocal": torch.reciprocal, "Not": torch.logical_not,
                   "Sin": torch.sin, "Cos": torch.cos, "Softplus": F.softplus, "HardSwish": F.hardswish,
                   "Identity": lambda x: x, "Dropout": lambda x: x}.items():
    OPS[_name] = (lambda f: lambda n, xs, ctx: f(xs[0]))(_fn)
OPS["LeakyRelu"] = lambda n, xs, ctx: F.leaky_relu(xs[0], n.a("alpha", 0.01))
OPS["Elu"] = lambda n, xs, ctx: F.elu(xs[0], n.a("alpha", 1.0))
OPS["HardSigmoid"] = lambda n, xs, ctx: torch.clamp(xs[0] * n.a("alpha", 0.2) + n.a("beta", 0.5), 0, 1)
OPS["Max"] = lambda n, xs, ctx: functools.reduce(lambda a, b: torch.maximum(*aligned(a, b)), xs)
OPS["Min"] = lambda n, xs, ctx: functools.reduce(lambda a, b: torch.minimum(*aligned(a, b)), xs)
OPS["Sum"] = lambda n, xs, ctx: functools.reduce(lambda a, b: torch.add(*aligned(a, b)), xs)
OPS["Where"] = lambda n, xs, ctx: torch.where(like(xs[0], xs[1]), *aligned(xs[1], xs[2]))
OPS["MatMul"] = lambda n, xs, ctx: torch.matmul(*aligned(xs[0], xs[1]))
OPS["Transpose"] = lambda n, xs, ctx: xs[0].permute(n.a("perm", list(range(xs[0].dim()))[::-1]))
OPS["Concat"] = lambda n, xs, ctx: torch.cat([like(x, xs[0]) for x in xs if x is not None], n.a("axis"))
OPS["Flatten"] = lambda n, xs, ctx: xs[0].reshape(int(np.prod(xs[0].shape[:n.a("axis", 1)])), -1)
OPS["Tile"] = lambda n, xs, ctx: xs[0].repeat(S(n, xs, 1))
OPS["Expand"] = lambda n, xs, ctx: xs[0].expand(torch.broadcast_shapes(xs[0].shape, tuple(S(n, xs, 1))))
OPS["Shape"] = lambda n, xs, ctx: torch.tensor(list(xs[0].shape)[n.a("start", 0):n.a("end", None)])
OPS["Size"] = lambda n, xs, ctx: torch.tensor(xs[0].numel())
OPS["Range"] = lambda n, xs, ctx: torch.arange(S(n, xs, 0), S(n, xs, 1), S(n, xs, 2))
OPS["Clip"] = lambda n, xs, ctx: torch.clamp(xs[0], n.a("min", S(n, xs, 1)), n.a("max", S(n, xs, 2)))


def torch_pad(pads, nd):
    """ONNX [b1..bn, e1..en] -> torch (bn, en, ..., b1, e1), trailing no-op pairs dropped."""
    out = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[i + nd]]
    while len(out) > 2 and out[-1] == 0 and out[-2] == 0:
        out = out[:-2]
    return out


@op("Conv")
def _conv(n, xs, ctx):
    x, w, b = xs[0], xs[1], xs[2] if len(xs) > 2 else None
    nd = w.dim() - 2
    if n.a("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"Conv auto_pad={n.a('auto_pad')}")
    pads = n.a("pads", [0] * 2 * nd) if n.a("auto_pad", "NOTSET") == "NOTSET" else [0] * 2 * nd
    if pads[:nd] != pads[nd:]:
        x, pads = F.pad(x, torch_pad(pads, nd)), [0] * 2 * nd
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    return conv(x, w, b, n.a("strides", [1] * nd), pads[:nd], n.a("dilations", [1] * nd), n.a("group", 1))


@op("MaxPool")
def _pool(n, xs, ctx):
    x, k = xs[0], n.a("kernel_shape")
    nd = len(k)
    if n.a("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"{n.op} auto_pad={n.a('auto_pad')}")
    pads = n.a("pads", [0] * 2 * nd) if n.a("auto_pad", "NOTSET") == "NOTSET" else [0] * 2 * nd
    strides, ceil = n.a("strides", [1] * nd), bool(n.a("ceil_mode", 0))
    sym = pads[:nd] == pads[nd:] and all(p <= kk // 2 for p, kk in zip(pads, k))
    if not sym:  # asymmetric padding: pad with -inf so padded cells never win
        x, pads = F.pad(x, torch_pad(pads, nd), value=float("-inf")), [0] * 2 * nd
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
    return pool(x, k, strides, pads[:nd], n.a("dilations", [1] * nd), ceil)




@op("Resize", "Upsample")
def _resize(n, xs, ctx):
    x, sp = xs[0], xs[0].dim() - 2
    if n.op == "Upsample" or ctx.opset < 11:  # Upsample and Resize-10: (X, scales), asymmetric coordinates
        scales, sizes, ctm = n.a("scales") or S(n, xs, 1), None, "asymmetric"
        nearest = "floor"
    else:
        scales, sizes = S(n, xs, 2), S(n, xs, 3)
        ctm, nearest = n.a("coordinate_transformation_mode", "half_pixel"), n.a("nearest_mode", "round_prefer_floor")
    if sizes:
        kw = {"size": [int(s) for s in sizes[-sp:]]}
    else:
        if [float(s) for s in scales[:2]] != [1.0, 1.0]:
            raise NotImplementedError(f"Resize of batch/channel dims (scales {scales})")
        kw = {"scale_factor": [float(s) for s in scales[2:]]}
    mode = n.a("mode", "nearest")
    if mode == "nearest":
        if ctm == "asymmetric" and nearest == "floor":  # src = floor(dst / scale): torch 'nearest'
            return F.interpolate(x, mode="nearest", **kw)
        if ctm in ("half_pixel", "pytorch_half_pixel") and nearest == "round_prefer_ceil":
            return F.interpolate(x, mode="nearest-exact", **kw)
    elif mode == "linear" and ctm in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        lin = {1: "linear", 2: "bilinear", 3: "trilinear"}[sp]
        return F.interpolate(x, mode=lin, align_corners=ctm == "align_corners", **kw)
    raise NotImplementedError(f"{n.op} mode={mode} coordinate_transformation_mode={ctm} nearest_mode={nearest}")


@op("Softmax", "LogSoftmax")
def _softmax(n, xs, ctx):
    x, new = xs[0], ctx.opset >= 13
    axis = n.a("axis", -1 if new else 1) % x.dim()
    f = torch.softmax if n.op == "Softmax" else torch.log_softmax
    if new or axis == x.dim() - 1:
        return f(x, axis)
    return f(x.flatten(axis), -1).reshape(x.shape)  # opset < 13: coerce to 2-D at axis


@op("Split")
def _split(n, xs, ctx):
    x, axis = xs[0], n.a("axis", 0)
    sizes = n.a("split") or S(n, xs, 1)
    if not sizes:
        k, dim = n.a("num_outputs", len(n.outputs)), x.shape[axis]
        c = -(-dim // k)
        sizes = [c] * (k - 1) + [dim - c * (k - 1)]
    return torch.split(x, sizes, axis)


@op("Reshape")
def _reshape(n, xs, ctx):
    x, shape = xs[0], list(S(n, xs, 1))
    # Batch rebinding (see header): the export baked the batch into the target.
    if (ctx.export_batch and ctx.batch != ctx.export_batch and shape and shape[0] == ctx.export_batch
            and x.dim() > 0 and x.shape[0] == ctx.batch):
        shape[0] = ctx.batch
    if not n.a("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


@op("Slice")
def _slice(n, xs, ctx):
    x = xs[0]
    if ctx.opset < 10:
        starts, ends, axes, steps = n.a("starts"), n.a("ends"), n.a("axes"), None
    else:
        starts, ends, axes, steps = (S(n, xs, i) for i in (1, 2, 3, 4))
    axes = axes or list(range(len(starts)))
    steps = steps or [1] * len(starts)
    idx = [slice(None)] * x.dim()
    for st, en, ax, step in zip(starts, ends, axes, steps):
        if step <= 0:
            raise NotImplementedError("Slice with a non-positive step")
        dim = x.shape[ax]
        st, en = (max(0, min(dim, v + dim if v < 0 else v)) for v in (st, en))
        idx[ax] = slice(st, en, step)
    return x[tuple(idx)]


@op("Gather")
def _gather(n, xs, ctx):
    x, idx, axis = xs[0], xs[1], n.a("axis", 0) % xs[0].dim()
    idx = like(idx, x).long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = torch.index_select(x, axis, idx.reshape(-1))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


@op("Unsqueeze")
def _unsqueeze(n, xs, ctx):
    x, axes = xs[0], n.a("axes") or S(n, xs, 1)
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return x


@op("Squeeze")
def _squeeze(n, xs, ctx):
    x, axes = xs[0], n.a("axes") or S(n, xs, 1)
    axes = [a % x.dim() for a in axes] if axes else [i for i, d in enumerate(x.shape) if d == 1]
    return x.squeeze(tuple(axes)) if axes else x


@op("Cast")
def _cast(n, xs, ctx):
    x, to = xs[0], n.a("to")
    if to in ONNX_FLOAT:  # every float type runs in the benchmark dtype; host-side shape math stays fp32
        return x.to(ctx.dtype) if x.is_cuda else x.float()
    if to not in ONNX_INT:
        raise NotImplementedError(f"Cast to ONNX type {to}")
    return x.to(ONNX_INT[to])


@op("ConstantOfShape")
def _const_of_shape(n, xs, ctx):
    v = n.a("value", torch.zeros(1))
    dev, dt = (ctx.device, ctx.dtype) if v.is_floating_point() else ("cpu", v.dtype)
    return torch.full([int(s) for s in S(n, xs, 0)], v.reshape(-1)[0].item(), dtype=dt, device=dev)


@op("Constant")
def _constant(n, xs, ctx):
    for k in ("value_float", "value_int", "value_floats", "value_ints"):
        if k in n.attrs:
            return torch.tensor(n.attrs[k], dtype=torch.float32 if "float" in k else torch.int64)
    if "value" not in n.attrs:
        raise NotImplementedError(f"Constant with attributes {sorted(n.attrs)}")
    return n.attrs["value"]


def run_node(n, xs, ctx):
    try:
        out = OPS[n.op](n, xs, ctx)
    except Exception as e:
        raise RuntimeError(f"{n.op} node '{n.name}': {type(e).__name__}: {e}") from e
    return out if isinstance(out, (tuple, list)) else (out,)


class Graph:
    """The ONNX graph on the host: constants folded, dead nodes dropped, frees scheduled."""

    def __init__(self, path, imgsz):
        if not os.path.isfile(path):
            die(f"model not found: {path} (pass --model PATH to an ONNX file)")
        try:
            m = onnx.load(path)
        except Exception as e:
            die(f"cannot load {path}: {e}")
        g = m.graph
        self.opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 13)
        bad = sorted({(p.op_type if p.domain in ("", "ai.onnx") else f"{p.domain}::{p.op_type}")
                      for p in g.node if p.op_type not in OPS or p.domain not in ("", "ai.onnx")})
        if bad:
            die(f"{path}: unsupported ONNX op(s): {', '.join(bad)}")
        self.consts = {t.name: to_torch(numpy_helper.to_array(t)) for t in g.initializer}
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            die(f"expected one graph input, found {[i.name for i in inputs]}")
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) != 4:
            die(f"expected an NCHW image input, found rank {len(dims)}")
        self.input, self.export_batch = inputs[0].name, dims[0]
        self.in_shape = (dims[1] or 3, dims[2] or imgsz, dims[3] or imgsz)
        self.outputs = [o.name for o in g.output]
        ctx = Ctx(self.opset, torch.float32, "cpu", self.export_batch or 1, self.export_batch)
        nodes, self.folded = [], 0
        for n in map(Node, g.node):
            if all(not nm or nm in self.consts for nm in n.inputs):  # constant folding on the host, fp32
                for nm, t in zip(n.outputs, run_node(n, [self.consts.get(nm) for nm in n.inputs], ctx)):
                    self.consts[nm] = t
                self.folded += 1
                continue
            for i in STATIC.get(n.op, ()):
                if i < len(n.inputs) and n.inputs[i] in self.consts:
                    n.static[i] = self.consts[n.inputs[i]].tolist()
            nodes.append(n)
        needed, self.nodes = set(self.outputs), []
        for n in reversed(nodes):  # dead-node elimination
            if any(o in needed for o in n.outputs):
                self.nodes.insert(0, n)
                needed.update(nm for i, nm in enumerate(n.inputs) if nm and i not in n.static)
        last = {}
        for k, n in enumerate(self.nodes):
            for nm in n.inputs + n.outputs:
                last[nm] = k
        self.free = [[] for _ in self.nodes]
        for nm, k in last.items():
            if nm and nm not in self.outputs:
                self.free[k].append(nm)


class Model:
    """The graph bound to a device, dtype and memory layout; callable on an NCHW input tensor."""

    def __init__(self, graph, dtype, channels_last, device="cuda"):
        self.g, self.ctx = graph, Ctx(graph.opset, dtype, device, None, graph.export_batch)
        conv_w = {n.inputs[1] for n in graph.nodes if n.op == "Conv"}
        self.env0 = {}
        for nm, t in graph.consts.items():
            if t.is_floating_point():  # integer tensors stay on the host
                t = t.to(device, dtype)
                if channels_last and nm in conv_w and t.dim() == 4:
                    t = t.contiguous(memory_format=torch.channels_last)
            self.env0[nm] = t

    def __call__(self, x):
        env, ctx = dict(self.env0), self.ctx._replace(batch=x.shape[0])
        env[self.g.input] = x
        for n, free in zip(self.g.nodes, self.g.free):
            xs = [env[nm] if nm and i not in n.static else None for i, nm in enumerate(n.inputs)]
            for nm, t in zip(n.outputs, run_node(n, xs, ctx)):
                if nm:
                    env[nm] = t
            for nm in free:
                env.pop(nm, None)
        return [env[o] for o in self.g.outputs]


def time_ms(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end, ts = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), []
    for _ in range(iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        ts.append(start.elapsed_time(end))
    return np.asarray(ts)


@torch.no_grad()
def bench(model, batch, shape, dtype, cl, iters, warmup):
    gen = torch.Generator(device="cuda").manual_seed(batch)
    x = torch.rand((batch, *shape), generator=gen, device="cuda").to(dtype)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    eager = time_ms(lambda: model(x), max(10, iters // 4), warmup)
    ref = model(x)[0].float()
    side = torch.cuda.Stream()  # warm up on a side stream (cuDNN autotuning, allocator) before capture
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = model(x)
    replay = time_ms(graph.replay, iters, warmup)
    diff = (out[0].float() - ref).abs().max().item()
    med = float(np.median(replay))
    res = {"batch": batch, "channels_last": cl, "eager_ms": float(np.median(eager)), "graph_ms_median": med,
           "graph_ms_p90": float(np.percentile(replay, 90)), "graph_ms_min": float(replay.min()),
           "fps": batch * 1000.0 / med, "graph_vs_eager_max_abs_diff": diff}
    del graph, out, x, ref
    torch.cuda.empty_cache()
    return res


def max_diffs(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        return {"error": f"shape mismatch {a.shape} vs {b.shape}"}
    if a.ndim == 3 and a.shape[1] > 4:  # YOLO (N, 4 + classes, anchors): boxes rows 0..3, scores rows 4..
        return {"boxes": float(np.abs(a[:, :4] - b[:, :4]).max()), "scores": float(np.abs(a[:, 4:] - b[:, 4:]).max())}
    return {"all": float(np.abs(a - b).max())}


@torch.no_grad()
def check(graph, path, input_npy):
    shape = (1, *graph.in_shape)
    if input_npy:
        x = np.load(input_npy).astype(np.float32)
        if x.shape != shape:
            die(f"--input-npy has shape {x.shape}, the model wants {shape}")
    else:
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
    xt = torch.from_numpy(x).cuda()
    y32 = Model(graph, torch.float32, False)(xt)[0].float().cpu().numpy()
    y16 = Model(graph, torch.float16, False)(xt.half())[0].float().cpu().numpy()
    res = {"input": input_npy or "rng(0) uniform [0,1)", "fp16_vs_fp32": max_diffs(y16, y32)}
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {graph.input: x})[0]
        res["fp32_vs_onnxruntime_cpu"] = max_diffs(y32, ref)
        res["fp16_vs_onnxruntime_cpu"] = max_diffs(y16, ref)
    except ImportError:
        res["fp32_vs_onnxruntime_cpu"] = "skipped: onnxruntime not importable"
    except Exception as e:
        res["fp32_vs_onnxruntime_cpu"] = f"skipped: onnxruntime failed: {e}"
    print("correctness check (batch 1, max abs diff):")
    for k, v in res.items():
        print(f"  {k:26s} {v}")
    return res


def default_model():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for d in (os.environ.get("ITSCAM_SHARED_DIR"), os.path.join(here, "shared"), os.path.join(here, "..", "shared")):
        if d and os.path.isfile(os.path.join(d, "models", "yolo11n.onnx")):
            return os.path.normpath(os.path.join(d, "models", "yolo11n.onnx"))
    return os.path.normpath(os.path.join(here, "..", "shared", "models", "yolo11n.onnx"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model(), help="ONNX model (default: %(default)s)")
    ap.add_argument("--batch", default="1,8,32,64,128", help="comma-separated batch sizes (default: %(default)s)")
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16", help="compute precision (default: fp16)")
    ap.add_argument("--iters", type=int, default=200, help="timed graph replays per batch (default: 200; eager "
                    "mode uses max(10, iters/4))")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs before timing (default: 20)")
    ap.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto",
                    help="NHWC input and conv weights; auto tries both and reports the faster (default: auto)")
    ap.add_argument("--imgsz", type=int, default=640, help="H and W for inputs whose spatial dims are dynamic")
    ap.add_argument("--no-cudnn-benchmark", action="store_true", help="leave torch.backends.cudnn.benchmark off")
    ap.add_argument("--check", action="store_true", help="before timing, compare fp32 and fp16 outputs on batch 1 "
                    "with onnxruntime CPU (if importable)")
    ap.add_argument("--input-npy", help="input for --check, float32 array of shape 1x3xHxW (default: seeded random)")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args()
    try:
        batches = [int(b) for b in args.batch.split(",") if b.strip()]
    except ValueError:
        die(f"--batch must be comma-separated integers, got '{args.batch}'")
    if not batches or min(batches) < 1 or args.iters < 1 or args.warmup < 0:
        die("--batch needs positive integers, --iters >= 1, --warmup >= 0")
    if not torch.cuda.is_available():
        die("no CUDA device visible to PyTorch")
    torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
    torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32 (no effect on fp16 runs)
    torch.backends.cuda.matmul.allow_tf32 = False
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32

    graph = Graph(args.model, args.imgsz)
    info = {"peer": "pytorch", "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "gpu": torch.cuda.get_device_name(0), "dtype": args.dtype,
            "model": os.path.abspath(args.model), "opset": graph.opset, "input_shape": list(graph.in_shape),
            "nodes": len(graph.nodes), "folded_nodes": graph.folded, "cudnn_benchmark": not args.no_cudnn_benchmark,
            "iters": args.iters, "warmup": args.warmup, "channels_last_mode": args.channels_last}
    print(f"torch {info['torch']} (CUDA {info['cuda']}, cuDNN {info['cudnn']}) on {info['gpu']}; {args.model}: "
          f"opset {graph.opset}, {len(graph.nodes)} nodes run, {graph.folded} folded, {args.dtype}")
    if args.check:
        info["check"] = check(graph, args.model, args.input_npy)

    layouts = {"auto": [False, True], "on": [True], "off": [False]}[args.channels_last]
    models = {cl: Model(graph, dtype, cl) for cl in layouts}
    info["batches"] = []
    print(f"\n{'batch':>5}  {'layout':<6} {'eager ms':>9} {'graph ms':>9} {'p90 ms':>9} {'img/s':>10}")
    for b in batches:
        runs = []
        for cl in layouts:
            try:
                runs.append(bench(models[cl], b, graph.in_shape, dtype, cl, args.iters, args.warmup))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                print(f"{b:>5}  {'NHWC' if cl else 'NCHW':<6} out of GPU memory")
        if not runs:
            info["batches"].append({"batch": b, "error": "out of memory"})
            continue
        best = min(runs, key=lambda r: r["graph_ms_median"])
        if len(runs) > 1:
            best["variants"] = {("channels_last" if r["channels_last"] else "nchw"):
                                {k: r[k] for k in ("eager_ms", "graph_ms_median", "graph_ms_p90", "fps")}
                                for r in runs}
        info["batches"].append(best)
        print(f"{b:>5}  {'NHWC' if best['channels_last'] else 'NCHW':<6} {best['eager_ms']:9.3f} "
              f"{best['graph_ms_median']:9.3f} {best['graph_ms_p90']:9.3f} {best['fps']:10.1f}"
              + (f"   (other layout: {min(r['graph_ms_median'] for r in runs if r is not best):.3f} ms)"
                 if len(runs) > 1 else ""))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(info, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
