// `itscam bench pipeline --fault KIND`: a device fault drill inside the measured run. From --fault-at seconds into
// the measurement, every run of the device's engines fails as KIND does (transient: a device error; oom: out of
// memory; sticky: a lost device, which the breaker answers with an engine rebuild), until --fault-for seconds later
// the device heals. It goes through the pipeline's fault-injecting backend decorator (pipeline/fault_injection.h),
// so the circuit breaker, the fallback device and the rebuild run their real code. Reports what a user asks after
// an outage: how soon the circuit opened, what served the batches meanwhile, how many frames were lost (their batch
// failed on every backend), how soon after the heal the device served again.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "pipeline/fault_injection.h"
#include "pipeline/pipeline.h"

namespace itscam::cli {

struct FaultDrillOptions {
    std::string kind;       // "transient" | "oom" | "sticky"; empty: no drill
    double at_s = -1;       // into the measurement; < 0: a quarter of it
    double for_s = -1;      // < 0: a quarter of the measurement
    std::string device;     // the device that fails ("cuda:1"); empty: every device of the pipeline
};

class FaultDrill {
  public:
    // kInvalidArgument for an unknown kind, or a window that does not end inside `measure_s`.
    static Result<std::unique_ptr<FaultDrill>> create(const FaultDrillOptions& opt, double measure_s);

    // The controller to hand the pipeline (PipelineOptions::faults) before it is created.
    const std::shared_ptr<pipeline::FaultController>& controller() const { return faults_; }
    const std::string& device() const { return device_; }
    double at_s() const { return at_s_; }
    double heal_s() const { return at_s_ + for_s_; }

    // Called every few tens of milliseconds while the measurement runs, with the seconds since it began: starts and
    // ends the fault on time, and notes when the device's circuit opened and closed again.
    void step(double t, const pipeline::PipelineSnapshot& s);
    // The figures, from the snapshots at the start and the end of the measurement.
    nlohmann::json result(const pipeline::PipelineSnapshot& first, const pipeline::PipelineSnapshot& last) const;
    // One line for the table's reader.
    static std::string describe(const nlohmann::json& r);

  private:
    FaultDrill(std::string kind, StatusCode code, double at_s, double for_s, std::string device);
    // The device the drill watches: the one named, else the first.
    const pipeline::DeviceSnapshot* watched(const pipeline::PipelineSnapshot& s) const;

    std::string kind_, device_;
    StatusCode code_;
    double at_s_, for_s_;
    std::shared_ptr<pipeline::FaultController> faults_;
    bool started_ = false, healed_ = false;
    double opened_s_ = -1, closed_s_ = -1;  // measurement seconds: first open after the start, first close after the heal
    int64_t processed_at_start_ = -1, processed_at_heal_ = -1;
};

}  // namespace itscam::cli
