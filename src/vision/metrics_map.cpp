#include "vision/metrics_map.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string_view>

namespace itscam::vision {

namespace {

constexpr int kT = MapEvaluator::kNumThresholds;

// np.linspace(start, stop, num): start + i * ((stop - start) / (num - 1)), with the last element set to stop exactly.
std::vector<double> linspace(double start, double stop, int num) {
    std::vector<double> v(num);
    const double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; ++i) v[i] = static_cast<double>(i) * step + start;
    v[num - 1] = stop;
    return v;
}

// numpy's pairwise summation (add.reduce on float64): 8 interleaved accumulators for blocks of up to 128, recursive
// halving above that. Reproduced so that the means round exactly as in the reference.
double pairwise_sum(const double* a, size_t n, size_t stride) {
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; ++i) res += a[i * stride];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j * stride];
        size_t i = 8;
        for (; i < n - (n % 8); i += 8) {
            for (int j = 0; j < 8; ++j) r[j] += a[(i + j) * stride];
        }
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i * stride];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2, stride) + pairwise_sum(a + n2 * stride, n - n2, stride);
}

// np.interp for increasing (possibly repeated) xp: the segment is the last j with xp[j] <= x, an exact hit or the last
// point returns fp[j], and x outside the range returns the end values.
double interp(double x, const std::vector<double>& xp, const std::vector<double>& fp) {
    const size_t n = xp.size();
    if (x > xp[n - 1]) return fp[n - 1];
    if (x < xp[0]) return fp[0];
    const size_t j = static_cast<size_t>(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin()) - 1;
    if (j == n - 1 || xp[j] == x) return fp[j];
    const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    return slope * (x - xp[j]) + fp[j];
}

// 101-point interpolated AP of one class at one threshold: precision envelope, np.interp at linspace(0, 1, 101),
// integrated with np.trapz.
double average_precision(const std::vector<double>& recall, const std::vector<double>& precision) {
    std::vector<double> mrec, mpre;
    mrec.reserve(recall.size() + 2);
    mpre.reserve(recall.size() + 2);
    mrec.push_back(0.0);
    mpre.push_back(1.0);
    mrec.insert(mrec.end(), recall.begin(), recall.end());
    mpre.insert(mpre.end(), precision.begin(), precision.end());
    mrec.push_back(1.0);
    mpre.push_back(0.0);
    for (size_t i = mpre.size() - 1; i-- > 0;) mpre[i] = std::max(mpre[i], mpre[i + 1]);

    static const std::vector<double> x = linspace(0.0, 1.0, 101);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = interp(x[i], mrec, mpre);
    std::vector<double> terms(x.size() - 1);
    for (size_t i = 0; i + 1 < x.size(); ++i) terms[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
    return pairwise_sum(terms.data(), terms.size(), 1);
}

double box_iou(const GroundTruth& g, const Detection& d) {
    const double gx1 = g.x1, gy1 = g.y1, gx2 = g.x2, gy2 = g.y2;
    const double dx1 = d.x1, dy1 = d.y1, dx2 = d.x2, dy2 = d.y2;
    const double iw = std::max(std::min(gx2, dx2) - std::max(gx1, dx1), 0.0);
    const double ih = std::max(std::min(gy2, dy2) - std::max(gy1, dy1), 0.0);
    const double inter = iw * ih;
    const double ag = (gx2 - gx1) * (gy2 - gy1), ad = (dx2 - dx1) * (dy2 - dy1);
    return inter / (ag + ad - inter + 1e-9);
}

bool fail(std::string* err, std::string msg) {
    if (err != nullptr) *err = std::move(msg);
    return false;
}

}  // namespace

void MapEvaluator::add_image(const std::vector<GroundTruth>& gt, const std::vector<Detection>& dets) {
    ++num_images_;
    for (const GroundTruth& g : gt) gt_classes_.push_back(g.class_id);
    if (dets.empty()) return;

    const size_t ng = gt.size(), nd = dets.size();
    std::vector<double> ious(ng * nd);
    for (size_t g = 0; g < ng; ++g) {
        for (size_t d = 0; d < nd; ++d) {
            ious[g * nd + d] = gt[g].class_id == dets[d].class_id ? box_iou(gt[g], dets[d]) : 0.0;
        }
    }

    static const std::vector<double> thr = linspace(0.5, 0.95, kT);
    std::vector<uint16_t> mask(nd, 0);
    struct Match {
        size_t g, d;
        double iou;
    };
    std::vector<Match> m;
    std::vector<char> det_used(nd), gt_used(ng);
    for (int k = 0; k < kT; ++k) {
        // np.nonzero order (gt-major), then argsort by IoU reversed: for equal IoUs the later pair comes first.
        m.clear();
        for (size_t g = 0; g < ng; ++g) {
            for (size_t d = 0; d < nd; ++d) {
                if (ious[g * nd + d] >= thr[k]) m.push_back({g, d, ious[g * nd + d]});
            }
        }
        if (m.empty()) continue;
        std::stable_sort(m.begin(), m.end(), [](const Match& a, const Match& b) { return a.iou < b.iou; });
        std::reverse(m.begin(), m.end());
        // First np.unique on the detection column keeps each detection's highest-IoU pair, and returns the survivors
        // ordered by detection index.
        std::fill(det_used.begin(), det_used.end(), 0);
        std::vector<Match> by_det;
        for (const Match& x : m) {
            if (!det_used[x.d]) {
                det_used[x.d] = 1;
                by_det.push_back(x);
            }
        }
        std::sort(by_det.begin(), by_det.end(), [](const Match& a, const Match& b) { return a.d < b.d; });
        // The second np.unique, on the label column, therefore keeps each label's lowest detection index (its
        // best-scored detection), not its highest IoU.
        std::fill(gt_used.begin(), gt_used.end(), 0);
        for (const Match& x : by_det) {
            if (!gt_used[x.g]) {
                gt_used[x.g] = 1;
                mask[x.d] |= static_cast<uint16_t>(1u << k);
            }
        }
    }
    for (size_t d = 0; d < nd; ++d) preds_.push_back({dets[d].score, dets[d].class_id, mask[d]});
}

MapResult MapEvaluator::compute() const {
    MapResult res;
    res.num_images = num_images_;
    std::map<int, int64_t> n_gt;
    for (int c : gt_classes_) ++n_gt[c];
    res.num_classes = static_cast<int>(n_gt.size());
    if (n_gt.empty()) return res;

    std::vector<size_t> order(preds_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return preds_[a].score > preds_[b].score; });

    std::vector<double> aps;  // classes x thresholds, row-major like the reference's array
    aps.reserve(n_gt.size() * kT);
    std::vector<double> recall, precision;
    for (const auto& [cls, count] : n_gt) {
        std::vector<uint16_t> tp;
        for (size_t i : order) {
            if (preds_[i].class_id == cls) tp.push_back(preds_[i].tp_mask);
        }
        for (int k = 0; k < kT; ++k) {
            double ap = 0.0;
            if (!tp.empty()) {
                recall.clear();
                precision.clear();
                double tpc = 0, fpc = 0;
                for (uint16_t t : tp) {
                    const bool hit = (t >> k) & 1u;
                    tpc += hit ? 1 : 0;
                    fpc += hit ? 0 : 1;
                    recall.push_back(tpc / (static_cast<double>(count) + 1e-16));
                    precision.push_back(tpc / (tpc + fpc));
                }
                ap = average_precision(recall, precision);
            }
            aps.push_back(ap);
        }
        res.class_ids.push_back(cls);
        res.ap50_95.push_back(pairwise_sum(&aps[aps.size() - kT], kT, 1) / kT);
        res.ap50.push_back(aps[aps.size() - kT]);
    }
    res.map50_95 = pairwise_sum(aps.data(), aps.size(), 1) / static_cast<double>(aps.size());
    res.map50 = pairwise_sum(aps.data(), n_gt.size(), kT) / static_cast<double>(n_gt.size());
    return res;
}

bool load_yolo_labels(const std::string& txt_path, int img_w, int img_h, std::vector<GroundTruth>& out,
                      std::string* err) {
    out.clear();
    std::error_code ec;
    if (!std::filesystem::exists(txt_path, ec)) return true;
    std::ifstream f(txt_path);
    if (!f) return fail(err, txt_path + ": cannot open");
    std::string line;
    int line_no = 0;
    while (std::getline(f, line)) {
        ++line_no;
        const size_t hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        double v[5];
        int n = 0;
        const char* p = line.data();
        const char* end = p + line.size();
        bool bad = false;
        while (true) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
            if (p == end) break;
            if (n == 5) {
                bad = true;
                break;
            }
            // from_chars rejects a leading '+', which Python's float() accepts.
            if (*p == '+') ++p;
            const auto r = std::from_chars(p, end, v[n]);
            if (r.ec != std::errc() || !std::isfinite(v[n])) {
                bad = true;
                break;
            }
            p = r.ptr;
            ++n;
        }
        if (n == 0 && !bad) continue;
        if (bad || n != 5) {
            out.clear();
            return fail(err, txt_path + ":" + std::to_string(line_no) + ": expected 'class cx cy w h'");
        }
        if (v[0] < 0 || v[0] != std::floor(v[0]) || v[0] > 1e9) {
            out.clear();
            return fail(err, txt_path + ":" + std::to_string(line_no) + ": class id is not a non-negative integer");
        }
        // Same expression order as the reference: (c - s / 2) * size, in double.
        const double w = img_w, h = img_h;
        out.push_back({static_cast<int>(v[0]), static_cast<float>((v[1] - v[3] / 2) * w),
                       static_cast<float>((v[2] - v[4] / 2) * h), static_cast<float>((v[1] + v[3] / 2) * w),
                       static_cast<float>((v[2] + v[4] / 2) * h)});
    }
    if (f.bad()) {
        out.clear();
        return fail(err, txt_path + ": read error");
    }
    return true;
}

}  // namespace itscam::vision
