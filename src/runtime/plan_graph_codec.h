// The graph of a plan as JSON (internal to runtime/plan*.cpp): nodes, attributes, values and metadata in the
// header; constant and attribute tensors as {dtype, shape, [stored], offset, bytes} that point into the blob area.
// Encoding is exact (floats included; JSON's missing Inf/NaN are strings). Decoding checks every field, every
// blob's bounds and size against its dtype and shape, and that each op is known; graph.verify() is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "graph/graph.h"
#include "runtime/plan.h"
#include "runtime/plan_json_reader.h"

namespace itscam {

inline uint64_t plan_align64(uint64_t v) {
    return (v + 63) & ~uint64_t{63};
}

// Lays out the tensors of one graph in the blob area, each at a 64-byte aligned offset. Holds pointers to the
// graph's tensors (which must outlive it) and its own fp16 copies. Not thread-safe.
class PlanBlobWriter {
  public:
    // `fp16_constants`: store fp32 graph constants as fp16 where they fit fp16's range (attribute tensors never).
    explicit PlanBlobWriter(bool fp16_constants) : fp16_(fp16_constants) {}
    // The tensor's JSON reference (null for an undefined tensor); `constant`: a graph constant.
    nlohmann::json tensor(const Tensor& t, bool constant);
    // Bytes the blob area needs (before padding the file to 64 bytes).
    uint64_t end() const { return end_; }
    // Copies every blob to `area` (at least end() bytes, zeroed by the caller).
    void copy_to(std::byte* area) const;

  private:
    struct Blob {
        const void* data;
        size_t bytes;
        std::vector<uint16_t> converted;  // fp32 -> fp16 copy
        uint64_t offset;
    };
    bool fp16_;
    std::vector<Blob> blobs_;
    uint64_t end_ = 0;
};

nlohmann::json plan_graph_to_json(const Graph& g, PlanBlobWriter& blobs);

// The blob area of a loaded plan.
struct PlanBlobArea {
    std::shared_ptr<std::byte> base;  // 64-byte aligned start of the blob area (aliases the file buffer)
    uint64_t bytes = 0;
    bool copy = false;  // copy instead of aliasing (set when fp16 blobs are widened: keep no half-used buffer)
    PlanFileStats* stats = nullptr;  // counts constants and fp16-stored ones (optional)
};

// Decodes header.graph into `g` (fp16-stored constants widened back to fp32). Failures land in `r`.
void plan_graph_from_json(PlanJsonReader& r, const nlohmann::json& j, const PlanBlobArea& area, Graph& g);

}  // namespace itscam
