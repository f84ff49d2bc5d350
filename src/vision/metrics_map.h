// COCO-style mAP50-95 / mAP50, reproducing /work/shared/tools/reference/coco_map.py (Ultralytics val matching,
// 101-point interpolated AP). Not thread-safe: one evaluator per thread, or external locking.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vision/detection.h"

namespace itscam::vision {

// One labelled object in original-image pixels.
struct GroundTruth {
    int class_id;
    float x1, y1, x2, y2;
};

struct MapResult {
    double map50_95 = 0.0;  // mean AP over classes and IoU thresholds 0.50:0.05:0.95
    double map50 = 0.0;     // mean AP over classes at IoU 0.50
    int num_images = 0;     // images added, with or without labels or detections
    int num_classes = 0;    // distinct ground-truth classes; the means run over these only
    // Per ground-truth class (ascending id): AP50-95 and AP50.
    std::vector<int> class_ids;
    std::vector<double> ap50_95;
    std::vector<double> ap50;
};

// Accumulates per-image matches and scores them at the end. Detections of classes with no ground truth anywhere
// are ignored; a dataset with no ground truth gives zeros with num_classes = 0.
class MapEvaluator {
  public:
    static constexpr int kNumThresholds = 10;

    // Matches dets to gt at each IoU threshold (greedy by IoU, one detection per label and one label per
    // detection, as the reference's np.unique sequence does) and records them. dets should be in the order the
    // detector produced them (best score first): the reference breaks ties by that order.
    void add_image(const std::vector<GroundTruth>& gt, const std::vector<Detection>& dets);

    MapResult compute() const;

  private:
    struct Prediction {
        float score;
        int class_id;
        uint16_t tp_mask;  // bit k set: true positive at threshold k
    };
    std::vector<Prediction> preds_;
    std::vector<int> gt_classes_;
    int num_images_ = 0;
};

// Reads YOLO-format labels ("class cx cy w h" per line, normalised to 0..1) and converts them to pixels for an image of
// img_w x img_h. A missing file means no labels (returns true with out empty). Blank lines and '#' comments are
// skipped; any other line that is not exactly five numbers with an integral non-negative class is an error (returns
// false, out cleared, message in *err when err is not null).
bool load_yolo_labels(const std::string& txt_path, int img_w, int img_h, std::vector<GroundTruth>& out,
                      std::string* err);

}  // namespace itscam::vision
