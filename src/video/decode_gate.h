// DecodeGate: at most `slots` CPU decodes at once across every camera of a pipeline, granted in arrival order.
//
// Why: under overload a node runs hundreds of capture threads, one decoder each. Unbounded, they make the CPU's run
// queue hundreds deep. The capture threads run at nice 19, so the scheduler still favours the inference workers, but
// a capture thread preempted while it holds a lock a worker needs next (a frame pool, a camera's queue) stalls that
// worker until its turn comes again. On an H100 host 480 CPU-decoded cameras (twice what one worker serves) left
// the worker idle 29% of the time and served 87% of the at-capacity figure. With at most as many decoders running as
// there are cores (the pipeline's default, pipeline.cpp), the run queue stays short and lock holders are rarely
// preempted.
//
// Only the CPU work is gated (FfmpegReader: the decoder's send/receive and the pixel conversion); reading packets,
// which waits on the network for a live camera, is not. A decoder with frame threads (decode_threads > 1) holds its
// one slot while they work. NVDEC readers take no slot. Slots go strictly first come, first served (a waiting
// thread is handed its slot directly, so nobody overtakes it): every camera waits its turn.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <semaphore>

namespace itscam::video {

class DecodeGate {
public:
    explicit DecodeGate(int slots);  // slots >= 1
    DecodeGate(const DecodeGate&) = delete;
    DecodeGate& operator=(const DecodeGate&) = delete;

    int slots() const { return slots_; }
    void acquire();  // blocks until a slot is granted
    void release();

    struct Stats {
        int64_t grants = 0;  // slots granted
        int64_t waits = 0;   // grants that had to queue
        double wait_s = 0;   // total time spent queued
    };
    Stats stats() const;
    int queued() const;  // threads waiting for a slot now

    // Holds at most one slot: enter() takes it unless already held, leave() gives it back if held; the destructor
    // leaves. A null gate makes both no-ops.
    class Hold {
    public:
        explicit Hold(DecodeGate* gate) : gate_(gate) {}
        ~Hold() { leave(); }
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;
        void enter() {
            if (gate_ && !held_) {
                gate_->acquire();
                held_ = true;
            }
        }
        void leave() {
            if (held_) {
                gate_->release();
                held_ = false;
            }
        }

    private:
        DecodeGate* gate_;
        bool held_ = false;
    };

private:
    struct Waiter {
        std::binary_semaphore granted{0};
    };
    const int slots_;
    mutable std::mutex mu_;
    int free_;
    std::deque<Waiter*> queue_;
    std::atomic<int64_t> grants_{0}, waits_{0}, wait_ns_{0};
};

// The cores this process may run on (its CPU affinity, which a container's cpuset narrows), at least 1.
int usable_cores();

}  // namespace itscam::video
