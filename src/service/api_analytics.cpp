#include "service/api_analytics.h"

#include <cctype>
#include <cmath>
#include <ctime>
#include <map>

#include "core/time_format.h"

namespace itscam::service {

using json = nlohmann::json;

namespace {

// Reads exactly `n` digits at s[i...] into *out.
bool digits(const std::string& s, size_t& i, int n, int* out) {
    int v = 0;
    for (int k = 0; k < n; ++k, ++i) {
        if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

std::optional<SystemTime> parse_iso(const std::string& s) {
    size_t i = 0;
    int Y, M, D, h = 0, m = 0, sec = 0;
    if (!digits(s, i, 4, &Y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, &M) || i >= s.size() ||
        s[i++] != '-' || !digits(s, i, 2, &D))
        return std::nullopt;
    int64_t frac_us = 0;  // the fraction in whole microseconds (a double of epoch seconds would lose ~0.1 us)
    int offset_s = 0;
    if (i < s.size()) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return std::nullopt;
        ++i;
        if (!digits(s, i, 2, &h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, &m)) return std::nullopt;
        if (i < s.size() && s[i] == ':') {
            ++i;
            if (!digits(s, i, 2, &sec)) return std::nullopt;
            if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
                ++i;
                int64_t scale = 100000;
                const size_t start = i;
                for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, scale /= 10)
                    frac_us += (s[i] - '0') * scale;  // digits beyond microseconds add 0
                if (i == start) return std::nullopt;
            }
        }
        if (i < s.size()) {
            if (s[i] == 'Z' || s[i] == 'z') {
                ++i;
            } else if (s[i] == '+' || s[i] == '-') {
                const int sign = s[i++] == '-' ? -1 : 1;
                int oh, om = 0;
                if (!digits(s, i, 2, &oh)) return std::nullopt;
                if (i < s.size() && s[i] == ':') ++i;
                if (i < s.size() && !digits(s, i, 2, &om)) return std::nullopt;
                if (oh > 23 || om > 59) return std::nullopt;
                offset_s = sign * (oh * 3600 + om * 60);
            } else {
                return std::nullopt;
            }
        }
    }
    if (i != s.size()) return std::nullopt;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
    std::tm tm{};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    const std::time_t t = timegm(&tm);
    std::tm back{};
    gmtime_r(&t, &back);
    if (back.tm_mday != D && sec != 60) return std::nullopt;  // 2026-02-31 normalises to March: refused
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::seconds(t - offset_s) +
                                                                       std::chrono::microseconds(frac_us)));
}

// Whole seconds and an optional fraction, read as integers (exact to the microsecond).
std::optional<SystemTime> parse_unix(const std::string& s) {
    const size_t dot = s.find('.');
    const std::string whole = s.substr(0, dot), frac = dot == std::string::npos ? "" : s.substr(dot + 1);
    if (whole.empty() || whole.size() > 11 || (dot != std::string::npos && frac.empty())) return std::nullopt;
    for (char c : whole + frac)
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    int64_t us = 0, scale = 100000;
    for (size_t i = 0; i < frac.size() && scale > 0; ++i, scale /= 10) us += (frac[i] - '0') * scale;
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::seconds(std::stoll(whole)) +
                                                                       std::chrono::microseconds(us)));
}

std::string iso(SystemTime t) { return iso8601_utc(t); }

json opt_num(const std::optional<double>& v, double scale = 100) {
    if (!v || !std::isfinite(*v)) return nullptr;
    return std::round(*v * scale) / scale;
}

json line_counts_array(const std::map<LineCountKey, int64_t>& counts) {
    json a = json::array();
    for (const auto& [k, n] : counts)
        a.push_back({{"line", std::get<0>(k)}, {"direction", std::get<1>(k)}, {"class", std::get<2>(k)}, {"count", n}});
    return a;
}

json point(const analytics::Point& p) { return json::array({p.x, p.y}); }

}  // namespace

Result<SystemTime> parse_api_time(const std::string& text) {
    if (auto t = parse_unix(text)) return *t;
    if (auto t = parse_iso(text)) return *t;
    return invalid_argument("'" + text +
                            "' is not a time (ISO 8601 such as 2026-12-03T10:15:00Z, or Unix seconds)");
}

Result<CountsQuery> parse_counts_query(const std::optional<std::string>& since, const std::optional<std::string>& until,
                                       const std::optional<std::string>& interval, SystemTime now) {
    CountsQuery q;
    if (interval) {
        static const std::pair<const char*, int64_t> kIntervals[] = {{"1m", 60}, {"5m", 300}, {"15m", 900}, {"1h", 3600}};
        bool found = false;
        for (const auto& [name, secs] : kIntervals)
            if (*interval == name) {
                q.interval = name;
                q.bucket_s = secs;
                found = true;
            }
        if (!found) return invalid_argument("interval: '" + *interval + "' is not one of 1m, 5m, 15m, 1h");
    }
    q.until = now;
    if (until) {
        auto t = parse_api_time(*until);
        if (!t) return invalid_argument("until: " + t.status().message());
        q.until = *t;
    }
    q.since = q.until - std::chrono::hours(1);
    if (since) {
        auto t = parse_api_time(*since);
        if (!t) return invalid_argument("since: " + t.status().message());
        q.since = *t;
    }
    if (q.since >= q.until)
        return invalid_argument("since: " + iso(q.since) + " is not before until (" + iso(q.until) + ")");
    const auto span_s = std::chrono::duration_cast<std::chrono::seconds>(q.until - q.since).count();
    if (span_s / q.bucket_s + 2 > kMaxCountBuckets)
        return invalid_argument("interval: " + q.interval + " buckets over " + std::to_string(span_s) +
                                " s are more than " + std::to_string(kMaxCountBuckets) +
                                "; choose a longer interval or a shorter range");
    return q;
}

json counts_json(const std::string& camera, const CountsQuery& q, const std::vector<CountBucket>& buckets,
                 const std::string& source) {
    std::map<LineCountKey, int64_t> totals;
    json arr = json::array();
    for (const auto& b : buckets) {
        for (const auto& [k, n] : b.counts) totals[k] += n;
        json zones = json::object();
        for (const auto& [name, z] : b.zones)
            zones[name] = {{"occupancy_pct", std::round(z.occupancy_pct * 100) / 100},
                           {"mean_occupancy", std::round(z.mean_occupancy * 1000) / 1000},
                           {"max_queue", z.max_queue},
                           {"entries", z.entries},
                           {"exits", z.exits},
                           {"mean_speed_kmh", opt_num(z.mean_speed_kmh)},
                           {"congestion", z.congestion},
                           {"worst_congestion", z.worst_congestion}};
        arr.push_back({{"start", iso(b.start)},
                       {"end", iso(b.end)},
                       {"intervals", b.intervals},
                       {"counts", line_counts_array(b.counts)},
                       {"zones", std::move(zones)},
                       {"speed", {{"samples", b.speed_samples}, {"mean_kmh", opt_num(b.mean_speed_kmh)}}}});
    }
    return json{{"camera", camera},
                {"since", iso(q.since)},
                {"until", iso(q.until)},
                {"interval", q.interval},
                {"interval_s", q.bucket_s},
                {"source", source},
                {"totals", line_counts_array(totals)},
                {"buckets", std::move(arr)}};
}

json camera_analytics_json(const std::string& camera, const analytics::AnalyticsConfig& cfg,
                           const analytics::AnalyticsSnapshot& s, int width, int height) {
    json lines = json::array();
    for (const auto& l : cfg.lines) {
        json by_dir = json::object();
        by_dir[l.forward_name] = 0;
        by_dir[l.backward_name] = 0;
        json by_class = json::array();
        for (const auto& [k, n] : s.line_counts) {
            if (std::get<0>(k) != l.name) continue;
            by_dir[std::get<1>(k)] = by_dir.value(std::get<1>(k), int64_t{0}) + n;
            by_class.push_back({{"direction", std::get<1>(k)}, {"class", std::get<2>(k)}, {"count", n}});
        }
        lines.push_back({{"name", l.name},
                         {"a", point(l.a)},
                         {"b", point(l.b)},
                         {"forward", l.forward_name},
                         {"backward", l.backward_name},
                         {"count", l.count},
                         {"counts", std::move(by_dir)},
                         {"by_class", std::move(by_class)}});
    }
    std::map<std::string, const analytics::ZoneState*> state;
    for (const auto& z : s.zones) state[z.name] = &z;
    json zones = json::array();
    for (const auto& z : cfg.zones) {
        json poly = json::array();
        for (const auto& p : z.polygon) poly.push_back(point(p));
        json o{{"name", z.name}, {"polygon", std::move(poly)}};
        if (auto it = state.find(z.name); it != state.end()) {
            const analytics::ZoneState& st = *it->second;
            o["occupancy"] = st.occupancy;
            o["queue"] = st.queue;
            o["overcrowded"] = st.overcrowded;
            o["mean_speed_kmh"] = opt_num(st.mean_speed_kmh, 10);
            o["congestion"] = st.congestion;
            o["entries"] = st.entries;
            o["exits"] = st.exits;
        }
        zones.push_back(std::move(o));
    }
    return json{{"camera", camera},
                {"width", width},
                {"height", height},
                {"interval_s", cfg.interval_s},
                {"speed_calibrated", cfg.speed.has_value()},
                {"active_tracks", s.active_tracks},
                {"tracks_started", s.tracks_started},
                {"lines", std::move(lines)},
                {"zones", std::move(zones)}};
}

}  // namespace itscam::service
