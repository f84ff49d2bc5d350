#include "runtime/plan_format.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/version.h"
#include "runtime/plan_graph_codec.h"
#include "runtime/plan_json_reader.h"

namespace itscam {

using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{256} << 20;  // a header this big is not a plan

// ---- little-endian fixed fields ----

void put_u32(std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& s, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t get_u32(const std::byte* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}
uint64_t get_u64(const std::byte* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}

json info_to_json(const PlanInfo& p) {
    json tuning = json::array();
    for (const auto& [b, t] : p.tuning) tuning.push_back({{"batch", b}, {"tuning", t}});
    return {
        {"target",
         {{"backend", p.backend},
          {"key", p.target_key},
          {"precision", precision_name(p.precision)},
          {"imgsz", {p.height, p.width}},
          {"batch_sizes", p.batch_sizes},
          {"tuning", std::move(tuning)},
          {"autotune", p.autotune},
          {"performance", p.performance}}},
        {"creator", {{"itscam", p.creator}, {"created", p.created}}},
        {"source", {{"path", p.source_path}, {"sha256", p.source_sha256}, {"bytes", p.source_bytes}}},
    };
}

void decode_info(PlanJsonReader& d, const json& h, PlanInfo& p) {
    const json& t = d.object(h, "target", "header");
    p.backend = d.str(t, "backend", "target");
    p.target_key = d.str(t, "key", "target");
    const std::string prec = d.str(t, "precision", "target");
    if (d.ok()) {
        auto pr = parse_precision(prec);
        if (!pr)
            d.fail("target.precision '" + prec + "' is not a precision");
        else
            p.precision = *pr;
    }
    const std::vector<int64_t> imgsz = d.ints(d.array(t, "imgsz", "target"), 0, kPlanMaxImgsz, "target.imgsz");
    if (d.ok() && imgsz.size() != 2) d.fail("target.imgsz must be [h, w]");
    if (d.ok()) {
        p.height = static_cast<int>(imgsz[0]);
        p.width = static_cast<int>(imgsz[1]);
    }
    for (int64_t b : d.ints(d.array(t, "batch_sizes", "target"), 1, kPlanMaxBatch, "target.batch_sizes"))
        p.batch_sizes.push_back(static_cast<int>(b));
    for (size_t i = 1; d.ok() && i < p.batch_sizes.size(); ++i)
        if (p.batch_sizes[i] <= p.batch_sizes[i - 1]) d.fail("target.batch_sizes are not sorted and unique");
    const json& tuning = d.array(t, "tuning", "target");
    for (size_t i = 0; d.ok() && i < tuning.size(); ++i) {
        const std::string w = "target.tuning[" + std::to_string(i) + "]";
        const int b = static_cast<int>(d.integer(tuning[i], "batch", 1, kPlanMaxBatch, w));
        std::string s = d.str(tuning[i], "tuning", w);
        if (!d.ok()) break;
        if (std::find(p.batch_sizes.begin(), p.batch_sizes.end(), b) == p.batch_sizes.end())
            d.fail(w + ": batch " + std::to_string(b) + " is not among target.batch_sizes");
        else if (!p.tuning.emplace(b, std::move(s)).second)
            d.fail(w + ": batch " + std::to_string(b) + " appears twice");
    }
    p.autotune = d.boolean(t, "autotune", "target");
    p.performance = d.str(t, "performance", "target");
    if (d.ok()) {
        if (p.portable()) {
            if (!p.target_key.empty() || !p.tuning.empty() || !p.batch_sizes.empty())
                d.fail("a portable plan has no target key, batch sizes or tuning");
        } else {
            if (p.backend.empty() || p.target_key.empty())
                d.fail("target.backend and target.key must be set");
            else if (p.batch_sizes.empty())
                d.fail("target.batch_sizes is empty");
            else if (p.height <= 0 || p.width <= 0)
                d.fail("target.imgsz must be positive");
            else if (p.tuning.size() != p.batch_sizes.size())
                d.fail("target.tuning must have one entry per batch size");
        }
    }
    const json& c = d.object(h, "creator", "header");
    p.creator = d.str(c, "itscam", "creator");
    p.created = d.str(c, "created", "creator");
    const json& s = d.object(h, "source", "header");
    p.source_path = d.str(s, "path", "source");
    p.source_sha256 = d.str(s, "sha256", "source");
    p.source_bytes = d.integer(s, "bytes", 0, std::numeric_limits<int64_t>::max(), "source");
}

}  // namespace

std::shared_ptr<std::byte> plan_aligned_buffer(size_t bytes) {
    const size_t alloc = std::max<size_t>(64, plan_align64(bytes));
    void* p = std::aligned_alloc(64, alloc);
    if (!p) throw std::bad_alloc();
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

Result<PlanPreamble> plan_parse_preamble(const std::byte* p, size_t avail, uint64_t file_size) {
    if (file_size == 0) return corrupt("the plan file is empty");
    if (avail < 8 || std::memcmp(p, kPlanMagic, 8) != 0) return corrupt("not an itscam plan (bad magic)");
    if (avail < kPlanPreambleBytes)
        return corrupt("truncated plan: " + std::to_string(file_size) + " bytes, shorter than its " +
                       std::to_string(kPlanPreambleBytes) + "-byte preamble");
    const uint32_t version = get_u32(p + 8);
    if (version != kPlanFormatVersion)
        return unsupported("plan format version " + std::to_string(version) + " is not supported (this itscam reads " +
                           std::to_string(kPlanFormatVersion) + "): rebuild it with `itscam optimize`");
    if (get_u32(p + 12) != 0) return corrupt("plan preamble: reserved field is not zero");
    PlanPreamble pr;
    pr.header_bytes = get_u64(p + 16);
    pr.blobs_offset = get_u64(p + 24);
    pr.blobs_bytes = get_u64(p + 32);
    pr.checksum = get_u64(p + 40);
    for (size_t i = 48; i < kPlanPreambleBytes; ++i)
        if (p[i] != std::byte{0}) return corrupt("plan preamble: reserved bytes are not zero");
    if (pr.header_bytes == 0 || pr.header_bytes > kMaxHeaderBytes)
        return corrupt("plan preamble: header size " + std::to_string(pr.header_bytes) + " is invalid");
    if (pr.blobs_offset % 64 != 0 || pr.blobs_offset < kPlanPreambleBytes + pr.header_bytes ||
        pr.blobs_offset - (kPlanPreambleBytes + pr.header_bytes) >= 64)
        return corrupt("plan preamble: blob offset " + std::to_string(pr.blobs_offset) + " is invalid");
    if (pr.blobs_offset > file_size || pr.blobs_bytes != file_size - pr.blobs_offset) {
        const bool overflow = pr.blobs_bytes > std::numeric_limits<uint64_t>::max() - pr.blobs_offset;
        return corrupt("truncated or padded plan: the preamble describes " +
                       (overflow ? std::string("an impossible size")
                                 : std::to_string(pr.blobs_offset + pr.blobs_bytes) + " bytes") +
                       ", the file has " + std::to_string(file_size));
    }
    return pr;
}

Result<json> plan_parse_header(const std::byte* p, const PlanPreamble& pr) {
    const char* b = reinterpret_cast<const char*>(p + kPlanPreambleBytes);
    // JSON text has no NUL bytes (the parser would take one as the end of input).
    if (std::memchr(b, 0, pr.header_bytes) != nullptr) return corrupt("plan header holds a NUL byte (corrupt file?)");
    json h = json::parse(b, b + pr.header_bytes, nullptr, /*allow_exceptions=*/false);
    if (h.is_discarded() || !h.is_object()) return corrupt("plan header is not a JSON object (corrupt file?)");
    auto f = h.find("format");
    if (f == h.end() || !f->is_string() || f->get_ref<const std::string&>() != "itscam-plan")
        return corrupt("plan header: format is not 'itscam-plan'");
    return h;
}

Result<Plan> plan_parse_buffer(const std::shared_ptr<std::byte>& buf, size_t size, const PlanParseOptions& opt,
                               PlanFileStats* stats) {
    ITSCAM_ASSIGN_OR_RETURN(PlanPreamble pr, plan_parse_preamble(buf.get(), size, size));
    if (opt.verify_checksum && plan_checksum(buf.get() + kPlanPreambleBytes, size - kPlanPreambleBytes) != pr.checksum)
        return corrupt("plan checksum mismatch: the file is corrupt (rebuild it with `itscam optimize`)");
    ITSCAM_ASSIGN_OR_RETURN(json h, plan_parse_header(buf.get(), pr));
    Plan plan;
    PlanFileStats st;
    st.file_bytes = size;
    st.header_bytes = pr.header_bytes;
    st.blob_bytes = pr.blobs_bytes;
    try {
        PlanJsonReader d;
        decode_info(d, h, plan.info);
        const json& g = d.object(h, "graph", "header");
        PlanBlobArea area{std::shared_ptr<std::byte>(buf, buf.get() + pr.blobs_offset), pr.blobs_bytes,
                          plan.info.precision == Precision::kF16, &st};
        plan_graph_from_json(d, g, area, plan.graph);
        if (!d.ok()) return d.status();
    } catch (const nlohmann::json::exception& e) {
        return corrupt(std::string("plan header: ") + e.what());
    }
    Status v = plan.graph.verify();
    if (!v.is_ok()) return corrupt("plan graph is invalid: " + v.message());
    if (stats) *stats = st;
    return plan;
}

Result<PlanInfo> plan_info_from_header(const json& h) {
    PlanInfo info;
    try {
        PlanJsonReader d;
        decode_info(d, h, info);
        if (!d.ok()) return d.status();
    } catch (const nlohmann::json::exception& e) {
        return corrupt(std::string("plan header: ") + e.what());
    }
    return info;
}

std::string itscam_version_string() {
    return std::string("itscam ") + version();
}

Result<std::string> plan_serialize(const Plan& plan) {
    const PlanInfo& p = plan.info;
    if (p.portable()) {
        if (!p.target_key.empty() || !p.tuning.empty() || !p.batch_sizes.empty())
            return invalid_argument("a portable plan has no target key, batch sizes or tuning");
    } else {
        if (p.backend.empty() || p.target_key.empty())
            return invalid_argument("a plan's target needs a backend and key");
        if (p.batch_sizes.empty()) return invalid_argument("a targeted plan needs at least one batch size");
        for (size_t i = 0; i < p.batch_sizes.size(); ++i) {
            if (p.batch_sizes[i] < 1 || p.batch_sizes[i] > kPlanMaxBatch)
                return invalid_argument("batch sizes must be in 1..4096");
            if (i && p.batch_sizes[i] <= p.batch_sizes[i - 1])
                return invalid_argument("batch sizes must be sorted and unique");
            if (!p.tuning.count(p.batch_sizes[i]))
                return invalid_argument("no tuning for batch " + std::to_string(p.batch_sizes[i]));
        }
        if (p.tuning.size() != p.batch_sizes.size()) return invalid_argument("tuning for a batch size not served");
        if (p.height <= 0 || p.width <= 0) return invalid_argument("a targeted plan needs its input size");
    }
    PlanBlobWriter blobs(p.precision == Precision::kF16);
    std::string header;
    try {
        json h = info_to_json(p);
        h["format"] = "itscam-plan";
        h["version"] = kPlanFormatVersion;
        h["graph"] = plan_graph_to_json(plan.graph, blobs);
        header = h.dump();  // throws on invalid UTF-8 in a name
    } catch (const nlohmann::json::exception& e) {
        return invalid_argument(std::string("cannot encode the plan header: ") + e.what());
    }
    const uint64_t blobs_offset = plan_align64(kPlanPreambleBytes + header.size());
    const uint64_t blobs_bytes = plan_align64(blobs.end());
    std::string out(blobs_offset + blobs_bytes, '\0');
    std::memcpy(out.data(), kPlanMagic, 8);
    put_u32(out, 8, kPlanFormatVersion);
    put_u64(out, 16, header.size());
    put_u64(out, 24, blobs_offset);
    put_u64(out, 32, blobs_bytes);
    std::memcpy(out.data() + kPlanPreambleBytes, header.data(), header.size());
    blobs.copy_to(reinterpret_cast<std::byte*>(out.data() + blobs_offset));
    put_u64(out, 40, plan_checksum(out.data() + kPlanPreambleBytes, out.size() - kPlanPreambleBytes));
    return out;
}

Result<Plan> plan_parse(const void* data, size_t size, const PlanParseOptions& opt, PlanFileStats* stats) {
    std::shared_ptr<std::byte> buf = plan_aligned_buffer(size);
    if (size) std::memcpy(buf.get(), data, size);
    return plan_parse_buffer(buf, size, opt, stats);
}

}  // namespace itscam
