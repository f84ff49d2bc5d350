#include "runtime/plan_json_reader.h"

#include <cmath>
#include <limits>

namespace itscam {

using json = nlohmann::json;

namespace {

constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8, DType::kU8,
                                DType::kI32, DType::kI64, DType::kBool, DType::kF64};

}  // namespace

bool plan_dtype_from_name(const std::string& s, DType& out) {
    for (DType t : kAllDTypes)
        if (s == dtype_name(t)) {
            out = t;
            return true;
        }
    return false;
}

void PlanJsonReader::fail(const std::string& msg) {
    if (st_.is_ok()) st_ = corrupt("plan header: " + msg);
}

const json& PlanJsonReader::field(const json& o, const char* key, json::value_t type, const std::string& where) {
    static const json kNull;
    if (!ok()) return kNull;
    if (!o.is_object()) {
        fail(where + " is not an object");
        return kNull;
    }
    auto it = o.find(key);
    if (it == o.end()) {
        fail(where + "." + key + " is missing");
        return kNull;
    }
    const json& v = *it;
    const bool match = type == json::value_t::number_integer ? v.is_number_integer() : v.type() == type;
    if (!match) {
        fail(where + "." + key + " has the wrong type (" + v.type_name() + ")");
        return kNull;
    }
    return v;
}

const json& PlanJsonReader::object(const json& o, const char* key, const std::string& where) {
    return field(o, key, json::value_t::object, where);
}

const json& PlanJsonReader::array(const json& o, const char* key, const std::string& where) {
    return field(o, key, json::value_t::array, where);
}

std::string PlanJsonReader::str(const json& o, const char* key, const std::string& where) {
    const json& v = field(o, key, json::value_t::string, where);
    return v.is_string() ? v.get_ref<const std::string&>() : std::string();
}

bool PlanJsonReader::boolean(const json& o, const char* key, const std::string& where) {
    const json& v = field(o, key, json::value_t::boolean, where);
    return v.is_boolean() && v.get<bool>();
}

int64_t PlanJsonReader::integer(const json& v, int64_t lo, int64_t hi, const std::string& what) {
    if (!ok()) return lo;
    int64_t x;
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            fail(what + " is out of range");
            return lo;
        }
        x = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
        x = v.get<int64_t>();
    } else {
        fail(what + " is not an integer");
        return lo;
    }
    if (x < lo || x > hi) {
        fail(what + " = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
             "]");
        return lo;
    }
    return x;
}

int64_t PlanJsonReader::integer(const json& o, const char* key, int64_t lo, int64_t hi, const std::string& where) {
    const json& v = field(o, key, json::value_t::number_integer, where);
    return ok() ? integer(v, lo, hi, where + "." + key) : lo;
}

std::string PlanJsonReader::string_item(const json& v, const std::string& what) {
    if (!ok()) return {};
    if (!v.is_string()) {
        fail(what + " is not a string");
        return {};
    }
    return v.get_ref<const std::string&>();
}

std::vector<std::string> PlanJsonReader::strings(const json& o, const char* key, const std::string& where) {
    std::vector<std::string> out;
    const json& a = array(o, key, where);
    if (!ok()) return out;
    out.reserve(a.size());
    for (size_t i = 0; i < a.size() && ok(); ++i)
        out.push_back(string_item(a[i], where + "." + key + "[" + std::to_string(i) + "]"));
    return out;
}

std::vector<int64_t> PlanJsonReader::ints(const json& a, int64_t lo, int64_t hi, const std::string& what) {
    std::vector<int64_t> out;
    if (!ok()) return out;
    if (!a.is_array()) {
        fail(what + " is not an array");
        return out;
    }
    out.reserve(a.size());
    for (size_t i = 0; i < a.size() && ok(); ++i)
        out.push_back(integer(a[i], lo, hi, what + "[" + std::to_string(i) + "]"));
    return out;
}

float PlanJsonReader::floating(const json& v, const std::string& what) {
    if (!ok()) return 0.f;
    if (v.is_number()) {
        const double d = v.get<double>();
        // Finite floats were written exactly; a double beyond float's range is not one we wrote.
        if (!(std::fabs(d) <= static_cast<double>(std::numeric_limits<float>::max()))) {
            fail(what + " is out of float range");
            return 0.f;
        }
        return static_cast<float>(d);
    }
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
        if (s == "inf") return std::numeric_limits<float>::infinity();
        if (s == "-inf") return -std::numeric_limits<float>::infinity();
    }
    fail(what + " is not a float");
    return 0.f;
}

DType PlanJsonReader::dtype(const json& v, const std::string& what) {
    DType t = DType::kF32;
    if (!ok()) return t;
    if (!v.is_string() || !plan_dtype_from_name(v.get_ref<const std::string&>(), t))
        fail(what + " is not a known dtype");
    return t;
}
Shape PlanJsonReader::shape(const json& a, bool allow_unknown, const std::string& what) {
    Shape s;
    if (!ok()) return s;
    if (!a.is_array() || a.size() > 16) {
        fail(what + " is not a shape");
        return s;
    }
    int64_t numel = 1;
    for (size_t i = 0; i < a.size() && ok(); ++i) {
        const int64_t d = integer(a[i], allow_unknown ? -1 : 0, kPlanMaxNumel, what + "[" + std::to_string(i) + "]");
        if (!allow_unknown) {
            if (d > 0 && numel > kPlanMaxNumel / d) {
                fail(what + " is absurdly large");
                return s;
            }
            numel *= d;
        }
        s.push_back(d);
    }
    return s;
}

}  // namespace itscam
