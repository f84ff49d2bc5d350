// Typed reads of a plan's JSON header (internal to runtime/plan*.cpp). Every accessor checks type and range and
// records the first failure as a "corrupt" status instead of throwing; after one, the others return defaults, so a
// decoder reads on and checks ok() once. One reader per header; not thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

namespace itscam {

// Sanity limits on what a plan header may claim.
inline constexpr int64_t kPlanMaxNumel = int64_t{1} << 40;
inline constexpr int kPlanMaxBatch = 4096;
inline constexpr int kPlanMaxImgsz = 8192;

class PlanJsonReader {
  public:
    using json = nlohmann::json;

    bool ok() const { return st_.is_ok(); }
    const Status& status() const { return st_; }
    // Records `msg` (prefixed "plan header: ") unless a failure is already recorded.
    void fail(const std::string& msg);

    // o[key], which must have `type` (number_integer also accepts unsigned); a null json when it does not.
    const json& field(const json& o, const char* key, json::value_t type, const std::string& where);
    const json& object(const json& o, const char* key, const std::string& where);
    const json& array(const json& o, const char* key, const std::string& where);
    std::string str(const json& o, const char* key, const std::string& where);
    bool boolean(const json& o, const char* key, const std::string& where);
    int64_t integer(const json& v, int64_t lo, int64_t hi, const std::string& what);
    int64_t integer(const json& o, const char* key, int64_t lo, int64_t hi, const std::string& where);
    std::string string_item(const json& v, const std::string& what);
    std::vector<std::string> strings(const json& o, const char* key, const std::string& where);
    std::vector<int64_t> ints(const json& a, int64_t lo, int64_t hi, const std::string& what);
    // A float written by the plan writer: a number, or "nan" / "inf" / "-inf".
    float floating(const json& v, const std::string& what);
    DType dtype(const json& v, const std::string& what);
    // Shape of a tensor (no unknown dims, at most kPlanMaxNumel elements) or of a value (-1 = unknown).
    Shape shape(const json& a, bool allow_unknown, const std::string& what);

  private:
    Status st_;
};

// Names of dtypes as plans write them (dtype_name()); false for an unknown name.
bool plan_dtype_from_name(const std::string& s, DType& out);

}  // namespace itscam
