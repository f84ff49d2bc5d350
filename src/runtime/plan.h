// Plans: a model graph plus what `itscam optimize` learned building it for one target, in one file that loads
// without the ONNX importer (like a TensorRT engine, but re-optimized per batch size at load in milliseconds).
//
// File layout (little-endian; docs/plans.md has the details):
//   0   "ITSCPLAN"              magic (8 bytes)
//   8   u32 format version      kPlanFormatVersion; another version is refused
//   12  u32 reserved (0)
//   16  u64 header bytes        the JSON header that follows the preamble
//   24  u64 blobs offset        64-byte aligned, after the header
//   32  u64 blobs bytes         the rest of the file
//   40  u64 checksum            64-bit hash of header + blobs (a flipped byte anywhere is "corrupt")
//   48  16 reserved bytes (0)
//   64  JSON header: format, creator, source, target, graph (nodes, attributes, values, metadata, and for each
//       constant or tensor attribute: dtype, shape, storage dtype, offset and size in the blob area)
//   ... raw tensor blobs, each at a 64-byte aligned offset relative to the blob area
//
// The graph is stored as imported (before the shape-binding passes), so an Engine re-runs the passes for each
// batch size. An fp16 plan stores fp32 constants as fp16 (when their values fit fp16's range) and widens them
// back at load. Loading validates the magic, version, checksum, header shape, every blob's bounds and size
// against its dtype and shape, and the graph's structure: a truncated or corrupt file is an error, never a crash.
// Not thread-safe per Plan object; plans are immutable once loaded.
//
// Implementation: plan_format.{h,cpp} (preamble, header, target/creator/source; bytes <-> Plan), plan_file.cpp
// (files), plan_graph_codec.{h,cpp} (Graph <-> JSON + blobs), plan_json_reader.{h,cpp} (checked JSON reads) and
// plan_integrity.{h,cpp} (checksum, SHA-256).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

inline constexpr char kPlanMagic[8] = {'I', 'T', 'S', 'C', 'P', 'L', 'A', 'N'};
inline constexpr uint32_t kPlanFormatVersion = 1;
inline constexpr size_t kPlanPreambleBytes = 64;
// The backend name of a plan without a target: graph only, loadable by every backend.
inline constexpr const char* kPortableBackend = "portable";

// Everything in a plan but the graph: `itscam inspect` and the engine's checks read only this.
struct PlanInfo {
    // Target. "portable": no target (no key, no tuning; any backend, batch size and precision).
    std::string backend = kPortableBackend;  // "cuda", "cpu", "ref" or "portable"
    std::string target_key;                  // Backend::target_key() of the machine that built it
    Precision precision = Precision::kF32;   // compute precision (portable: the storage precision of the weights)
    int height = 0, width = 0;               // input size the plan was built for
    std::vector<int> batch_sizes;            // sorted, unique; empty for a portable plan
    std::map<int, std::string> tuning;       // per batch size: CompiledGraph::tuning() (may be empty strings)
    bool autotune = false;                   // how it was built (informational)
    std::string performance;                 // `--target-performance` it was built with (informational)
    // Creator.
    std::string creator;  // "itscam 0.1.0"
    std::string created;  // ISO 8601 UTC
    // Source model.
    std::string source_path;
    std::string source_sha256;  // hex
    int64_t source_bytes = 0;

    bool portable() const { return backend == kPortableBackend; }
};

struct Plan {
    PlanInfo info;
    Graph graph;  // as imported
};

// Size and content of a plan file once read (for inspect).
struct PlanFileStats {
    uint64_t file_bytes = 0;
    uint64_t header_bytes = 0;
    uint64_t blob_bytes = 0;
    size_t constants = 0;    // constants + tensor attributes
    size_t fp16_stored = 0;  // fp32 constants stored as fp16
};

// Serializes a plan. fp32 constants are stored as fp16 when info.precision is fp16 and they fit fp16's range.
Result<std::string> plan_serialize(const Plan& plan);
// Writes atomically: a temp file in the same folder, fsync, then rename over `path`.
Status plan_write(const Plan& plan, const std::string& path);

struct PlanParseOptions {
    bool verify_checksum = true;  // tests switch it off to reach the checks behind it
};
// Parses a whole plan from memory (any alignment; the bytes are copied once into aligned storage).
Result<Plan> plan_parse(const void* data, size_t size, const PlanParseOptions& opt = {},
                        PlanFileStats* stats = nullptr);
// Reads and parses a plan file; errors name the file.
Result<Plan> plan_read(const std::string& path, PlanFileStats* stats = nullptr);
// Only the header (no tensor data is read): target, creator and source, for checks and `inspect`.
Result<PlanInfo> plan_read_info(const std::string& path);

// True when the file starts with the plan magic (whatever its extension). False when it is missing or shorter.
bool is_plan_file(const std::string& path);

// SHA-256 (OpenSSL libcrypto, EVP) as 64 lowercase hex digits; used for the source model of a plan. Errors: the
// file cannot be read, or libcrypto fails (a broken OpenSSL configuration).
Result<std::string> sha256_file(const std::string& path);
Result<std::string> sha256_hex(const void* data, size_t size);

// The plan checksum over header + blobs (exposed for tests that forge plans to reach the checks behind it). Its
// value is part of format version 1: every plan written so far carries it.
uint64_t plan_checksum(const void* data, size_t size);

// "itscam <version>"
std::string itscam_version_string();

}  // namespace itscam
