#include "backend/cuda/cudnn_fused.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "device/cuda/csl_dnn.h"

namespace itscam {

namespace {

// Tensor ids: the variant pack's, then the virtual intermediates (kConvOut, then one per pointwise stage but the last).
constexpr int64_t kX = 1, kW = 2, kB = 3, kR = 4, kY = 5, kScale = 6, kOutScale = 7, kConvOut = 10;

// A backend descriptor that is destroyed with its scope unless released into FusedConv::keep_.
struct Desc {
    cudnnBackendDescriptor_t d = nullptr;
    Desc() = default;
    Desc(const Desc&) = delete;
    Desc& operator=(const Desc&) = delete;
    ~Desc() {
        if (d) cudnnBackendDestroyDescriptor(d);
    }
    cudnnBackendDescriptor_t release() {
        cudnnBackendDescriptor_t t = d;
        d = nullptr;
        return t;
    }
};

Status make(cudnnBackendDescriptorType_t type, Desc& out) {
    return csl::cudnn_status(cudnnBackendCreateDescriptor(type, &out.d), "cudnnBackendCreateDescriptor");
}

#define SET(desc, attr, type, count, ptr) \
    ITSCAM_CUDNN_CHECK(cudnnBackendSetAttribute((desc), (attr), (type), (count), (ptr)))

int64_t alignment_of(const void* p, int64_t ld_bytes) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p) | static_cast<uintptr_t>(ld_bytes);
    int64_t al = 16;
    while (al > 1 && (a % static_cast<uintptr_t>(al)) != 0) al /= 2;
    return al;
}

// An NHWC tensor [n, c, h, w] with row pitch ld (elements), or a virtual float intermediate.
Status tensor(Desc& t, int64_t id, cudnnDataType_t dt, int64_t n, int64_t c, int64_t h, int64_t w, int64_t ld,
              bool is_virtual, int64_t align) {
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_TENSOR_DESCRIPTOR, t));
    const int64_t dims[4] = {n, c, h, w};
    const int64_t strides[4] = {h * w * ld, 1, w * ld, ld};
    SET(t.d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    SET(t.d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    SET(t.d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    SET(t.d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id);
    SET(t.d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    bool v = is_virtual;
    SET(t.d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(t.d));
    return Status::ok();
}

Status pointwise(Desc& op, Desc& pw, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                 cudnnBackendDescriptor_t y) {
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, pw));
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    SET(pw.d, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    SET(pw.d, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    if (mode == CUDNN_POINTWISE_SWISH_FWD) {
        float beta = 1.f;
        SET(pw.d, CUDNN_ATTR_POINTWISE_SWISH_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    }
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(pw.d));
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, op));
    SET(op.d, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw.d);
    SET(op.d, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    if (b) SET(op.d, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
    SET(op.d, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(op.d));
    return Status::ok();
}

// Whether cuDNN notes the engine of `cfg` as nondeterministic (e.g. split-K reductions through atomics): two runs on
// one input may then differ.
bool engine_is_nondeterministic(cudnnBackendDescriptor_t cfg) {
    cudnnBackendDescriptor_t engine = nullptr;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) != CUDNN_STATUS_SUCCESS) return false;
    int64_t n = 0;
    bool nondeterministic = false;
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &engine) ==
        CUDNN_STATUS_SUCCESS) {
        cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT] = {};
        int64_t count = 0;
        if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                     CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes) == CUDNN_STATUS_SUCCESS)
            for (int64_t k = 0; k < count; ++k) nondeterministic |= notes[k] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
    }
    cudnnBackendDestroyDescriptor(engine);
    return nondeterministic;
}

}  // namespace

struct FusedConv::Plan {
    cudnnBackendDescriptor_t plan = nullptr;
    int64_t workspace = 0;
    std::string name;
    ~Plan() {
        if (plan) cudnnBackendDestroyDescriptor(plan);
    }
};

FusedConv::~FusedConv() {
    plans_.clear();
    for (auto it = keep_.rbegin(); it != keep_.rend(); ++it) cudnnBackendDestroyDescriptor(*it);
}

size_t FusedConv::workspace(int plan) const { return static_cast<size_t>(plans_[plan]->workspace); }
std::string FusedConv::engine_name(int plan) const { return plans_[plan]->name; }

Result<std::unique_ptr<FusedConv>> FusedConv::create(cudnnHandle_t handle, const FusedConvSpec& s, int max_configs,
                                                     size_t max_workspace) {
    std::unique_ptr<FusedConv> fc(new FusedConv());
    fc->residual_ = s.residual;
    fc->fp8_in_ = s.fp8_in;
    fc->fp8_out_ = s.fp8_out;
    const int64_t es = s.dtype == CUDNN_DATA_HALF ? 2 : 4;
    const int64_t es_in = s.fp8_in ? 1 : es, es_out = s.fp8_out ? 1 : es;
    const cudnnDataType_t in_dt = s.fp8_in ? CUDNN_DATA_FP8_E4M3 : s.dtype;
    const cudnnDataType_t out_dt = s.fp8_out ? CUDNN_DATA_FP8_E4M3 : s.dtype;
    const int64_t ldx = s.ldx ? s.ldx : s.c, ldy = s.ldy ? s.ldy : s.k, ldr = s.ldr ? s.ldr : s.k;
    Desc x, w, b, r, y, scale, out_scale, conv_out;
    ITSCAM_RETURN_IF_ERROR(tensor(x, kX, in_dt, s.n, s.c, s.h, s.w, ldx, false, alignment_of(s.x, ldx * es_in)));
    {
        // Filters K x C x R x S in KRSC order (NHWC filter layout).
        ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_TENSOR_DESCRIPTOR, w));
        const int64_t dims[4] = {s.k, s.c, s.r, s.s};
        const int64_t strides[4] = {s.r * s.s * s.c, 1, s.s * s.c, s.c};
        const int64_t id = kW, al = alignment_of(s.wt, s.c * es_in);
        cudnnDataType_t dt = in_dt;
        SET(w.d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
        SET(w.d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
        SET(w.d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
        SET(w.d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id);
        SET(w.d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &al);
        ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(w.d));
    }
    ITSCAM_RETURN_IF_ERROR(tensor(b, kB, s.dtype, 1, s.k, 1, 1, s.k, false, alignment_of(s.b, s.k * es)));
    ITSCAM_RETURN_IF_ERROR(tensor(conv_out, kConvOut, CUDNN_DATA_FLOAT, s.n, s.k, s.oh, s.ow, s.k, true, 16));
    ITSCAM_RETURN_IF_ERROR(tensor(y, kY, out_dt, s.n, s.k, s.oh, s.ow, ldy, false, alignment_of(s.y, ldy * es_out)));
    if (s.residual)
        ITSCAM_RETURN_IF_ERROR(tensor(r, kR, s.dtype, s.n, s.k, s.oh, s.ow, ldr, false, alignment_of(s.res, ldr * es)));
    if (s.fp8_in) ITSCAM_RETURN_IF_ERROR(tensor(scale, kScale, CUDNN_DATA_FLOAT, 1, s.k, 1, 1, s.k, false, 16));
    if (s.fp8_out) ITSCAM_RETURN_IF_ERROR(tensor(out_scale, kOutScale, CUDNN_DATA_FLOAT, 1, s.k, 1, 1, s.k, false, 16));

    Desc cd;
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, cd));
    {
        cudnnDataType_t comp = CUDNN_DATA_FLOAT;
        cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
        const int64_t dims = 2, dil[2] = {s.dil_h, s.dil_w}, str[2] = {s.stride_h, s.stride_w},
                      pad[2] = {s.pad_h, s.pad_w};
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, str);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
        SET(cd.d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
        ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(cd.d));
    }
    Desc conv_op;
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, conv_op));
    {
        float alpha = 1.f, beta = 0.f;
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x.d);
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w.d);
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv_out.d);
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd.d);
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
        SET(conv_op.d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
        ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(conv_op.d));
    }
    // The pointwise chain after the convolution: [* scale] + bias [act] [+ residual] [* out_scale]. The last stage
    // writes y, the others virtual float tensors.
    struct Stage {
        cudnnPointwiseMode_t mode;
        cudnnBackendDescriptor_t operand;
    };
    std::vector<Stage> stages;
    if (s.fp8_in) stages.push_back({CUDNN_POINTWISE_MUL, scale.d});
    stages.push_back({CUDNN_POINTWISE_ADD, b.d});
    if (s.activation != 0)
        stages.push_back({s.activation == 1   ? CUDNN_POINTWISE_SWISH_FWD
                          : s.activation == 2 ? CUDNN_POINTWISE_RELU_FWD
                                              : CUDNN_POINTWISE_SIGMOID_FWD,
                          nullptr});
    if (s.residual) stages.push_back({CUDNN_POINTWISE_ADD, r.d});
    if (s.fp8_out) stages.push_back({CUDNN_POINTWISE_MUL, out_scale.d});
    std::vector<std::unique_ptr<Desc>> chain;  // per stage: its output (unless y), its descriptor and its op
    std::vector<cudnnBackendDescriptor_t> ops = {conv_op.d};
    cudnnBackendDescriptor_t in = conv_out.d;
    for (size_t i = 0; i < stages.size(); ++i) {
        cudnnBackendDescriptor_t out = y.d;
        if (i + 1 < stages.size()) {
            chain.push_back(std::make_unique<Desc>());
            ITSCAM_RETURN_IF_ERROR(tensor(*chain.back(), kConvOut + 1 + static_cast<int64_t>(i), CUDNN_DATA_FLOAT, s.n,
                                          s.k, s.oh, s.ow, s.k, true, 16));
            out = chain.back()->d;
        }
        chain.push_back(std::make_unique<Desc>());
        Desc& pw = *chain.back();
        chain.push_back(std::make_unique<Desc>());
        Desc& op = *chain.back();
        ITSCAM_RETURN_IF_ERROR(pointwise(op, pw, stages[i].mode, in, stages[i].operand, out));
        ops.push_back(op.d);
        in = out;
    }
    Desc graph;
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, graph));
    SET(graph.d, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()), ops.data());
    SET(graph.d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(graph.d));

    Desc heur;
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, heur));
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    SET(heur.d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph.d);
    SET(heur.d, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(heur.d));
    constexpr int kMaxCfg = 16;
    cudnnBackendDescriptor_t cfgs[kMaxCfg] = {};
    for (auto& c : cfgs) ITSCAM_CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &c));
    int64_t count = 0;
    const cudnnStatus_t hs = cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                      CUDNN_TYPE_BACKEND_DESCRIPTOR, kMaxCfg, &count, cfgs);
    for (int64_t i = 0; hs == CUDNN_STATUS_SUCCESS && i < count && fc->num_plans() < max_configs; ++i) {
        cudnnBackendDescriptor_t plan = nullptr;
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) != CUDNN_STATUS_SUCCESS) break;
        auto p = std::make_unique<Plan>();
        p->plan = plan;
        if (cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle) !=
                CUDNN_STATUS_SUCCESS ||
            cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                     &cfgs[i]) != CUDNN_STATUS_SUCCESS ||
            cudnnBackendFinalize(plan) != CUDNN_STATUS_SUCCESS)
            continue;
        int64_t n = 0;
        if (cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                     &p->workspace) != CUDNN_STATUS_SUCCESS ||
            static_cast<size_t>(p->workspace) > max_workspace)
            continue;
        char name[256] = {};
        int64_t len = 0;
        if (cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR,
                                     sizeof(name) - 1, &len, name) == CUDNN_STATUS_SUCCESS)
            p->name.assign(name, static_cast<size_t>(std::min<int64_t>(len, sizeof(name) - 1)));
        p->name = "engine " + std::to_string(i) + (engine_is_nondeterministic(cfgs[i]) ? " nondeterministic" : "") +
                  (p->name.empty() ? "" : " " + p->name.substr(0, 60));
        fc->plans_.push_back(std::move(p));
    }
    for (auto& c : cfgs) cudnnBackendDestroyDescriptor(c);
    if (fc->plans_.empty())
        return unsupported("cuDNN offers no fused engine for this convolution (" +
                           std::string(hs == CUDNN_STATUS_SUCCESS ? "no finalizable plan" : cudnnGetErrorString(hs)) +
                           ")");
    // The plans keep references to the graph and tensors: keep them alive with the object.
    for (Desc* d : {&x, &w, &b, &r, &y, &scale, &out_scale, &conv_out, &cd, &conv_op})
        if (d->d) fc->keep_.push_back(d->release());
    for (auto& d : chain) fc->keep_.push_back(d->release());
    for (Desc* d : {&graph, &heur}) fc->keep_.push_back(d->release());
    return fc;
}

Status FusedConv::run_scaled(cudnnHandle_t handle, int plan, const void* x, const void* w, const float* scale,
                             const void* b, const void* r, const float* out_scale, void* y, void* workspace) const {
    Desc vp;
    ITSCAM_RETURN_IF_ERROR(make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, vp));
    int64_t ids[7] = {kX, kW, kB, kY};
    void* ptrs[7] = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(b), y};
    int64_t n = 4;
    const auto add = [&](int64_t id, const void* p) {
        ids[n] = id;
        ptrs[n++] = const_cast<void*>(p);
    };
    if (residual_) add(kR, r);
    if (fp8_in_) add(kScale, scale);
    if (fp8_out_) add(kOutScale, out_scale);
    SET(vp.d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, ids);
    SET(vp.d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
    SET(vp.d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    ITSCAM_CUDNN_CHECK(cudnnBackendFinalize(vp.d));
    ITSCAM_CUDNN_CHECK(cudnnBackendExecute(handle, plans_[plan]->plan, vp.d));
    return Status::ok();
}

}  // namespace itscam
