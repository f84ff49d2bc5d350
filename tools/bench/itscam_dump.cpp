// Before/after check for the backend split: loads a model/plan on a device, runs the golden input(s) tiled to
// batch B, writes the raw fp32 output and prints an FNV-1a hash of its bytes. Built inside each source tree.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "vision/npy.h"

using namespace itscam;

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: itscam_dump MODEL DEVICE PRECISION BATCH OUT.bin IN1.npy [IN2.npy...]\n");
        return 2;
    }
    EngineOptions o;
    o.device = argv[2];
    auto p = parse_precision(argv[3]);
    if (!p) { std::fprintf(stderr, "%s\n", p.status().to_string().c_str()); return 2; }
    o.precision = *p;
    o.precision_explicit = true;
    o.batch = std::atoi(argv[4]);
    auto e = Engine::load(argv[1], o);
    if (!e) { std::fprintf(stderr, "%s\n", e.status().to_string().c_str()); return 1; }
    Engine& eng = **e;
    Tensor in = Tensor::zeros(DType::kF32, {eng.batch(), 3, eng.input_height(), eng.input_width()});
    const size_t plane = size_t(3) * eng.input_height() * eng.input_width();
    std::vector<std::vector<float>> imgs;
    for (int i = 6; i < argc; ++i) {
        std::vector<float> d; std::vector<int64_t> s; std::string err;
        if (!vision::npy_load_f32(argv[i], d, s, &err) || d.size() != plane) {
            std::fprintf(stderr, "%s: %s\n", argv[i], err.c_str()); return 2;
        }
        imgs.push_back(std::move(d));
    }
    for (int b = 0; b < eng.batch(); ++b)
        std::memcpy(in.data<float>() + b * plane, imgs[b % imgs.size()].data(), plane * 4);
    std::vector<Tensor> outs;
    std::ofstream f(argv[5], std::ios::binary);
    uint64_t h = 1469598103934665603ull;
    const char* reps_env = std::getenv("ITSCAM_DUMP_REPS");
    const int reps = reps_env ? std::max(2, std::atoi(reps_env)) : 2;
    for (int rep = 0; rep < reps; ++rep) {  // every run must equal the first (determinism)
        Status st = eng.run(in, outs);
        if (!st) { std::fprintf(stderr, "%s\n", st.to_string().c_str()); return 1; }
        const auto* bytes = reinterpret_cast<const unsigned char*>(outs[0].raw());
        uint64_t hr = 1469598103934665603ull;
        for (size_t i = 0; i < outs[0].nbytes(); ++i) { hr ^= bytes[i]; hr *= 1099511628211ull; }
        if (rep == 0) { h = hr; f.write(reinterpret_cast<const char*>(bytes), outs[0].nbytes()); }
        else if (hr != h) std::printf("NONDETERMINISTIC %s\n", argv[5]);
    }
    std::printf("%s %s %s b%d fnv=%016llx\n", argv[1], argv[2], argv[3], eng.batch(), (unsigned long long)h);
    return 0;
}
