// Helpers shared by the video tests: shared clips, scratch folders, free ports and child processes that never
// outlive the test (process group kill in the destructor, PR_SET_PDEATHSIG if the test binary itself dies).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../common/loopback_util.h"

namespace itscam::video::test {

inline std::string shared_path(const std::string& rel) {
    return std::string(ITSCAM_SHARED_DIR) + "/" + rel;
}

struct Clip {
    const char* file;
    int frames;  // decoded frames (ffprobe -count_frames agrees)
    int width, height;
    double fps;
};

// The shared clips and their exact decoded frame counts.
inline const Clip kClips[] = {
    {"data/videos/highway_overpass_trucks_720p.mp4", 751, 1280, 720, 25.0},  // has an audio stream too
    {"data/videos/intersection_cctv_480p.mp4", 909, 640, 480, 30.0},
    {"data/videos/urban_road_cctv_360p.mp4", 1190, 640, 360, 25.0},  // fragmented MP4
};

inline std::string clip_path(int i) {
    return shared_path(kClips[i].file);
}

// A fresh scratch folder per test, removed when the object goes away.
class TempDir {
  public:
    TempDir() {
        const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "none";
        for (char& c : name) {
            if (c == '/') c = '_';
        }
        path_ = std::string(ITSCAM_BINARY_DIR) + "/video_test_" + name + "_" + std::to_string(::getpid());
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

inline bool write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return f.good();
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

using itscam::test_util::free_port;     // a loopback port that was free a moment ago
using itscam::test_util::port_accepts;  // something listens on a loopback port

// Full path of an executable on PATH, or "".
inline std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        const size_t end = p.find(':', start);
        const std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const std::string full = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(full.c_str(), X_OK) == 0) return full;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
}

// A child process in its own process group. The destructor kills the group and reaps it; PR_SET_PDEATHSIG kills
// the child if the test binary dies first, so no orphan outlives a crashed test.
class ChildProcess {
  public:
    ChildProcess() = default;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() { kill(); }

    // argv[0] must be a full path. Output goes to `log_path` ("" -> /dev/null).
    bool start(const std::vector<std::string>& argv, const std::string& log_path = "") {
        kill();
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int out = ::open(log_path.empty() ? "/dev/null" : log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int in = ::open("/dev/null", O_RDONLY);
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid < 0) return false;
        if (pid == 0) {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            if (in >= 0) ::dup2(in, 0);
            if (out >= 0) {
                ::dup2(out, 1);
                ::dup2(out, 2);
            }
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(pid, pid);  // also from the parent, so that kill(-pid) works right away
        if (out >= 0) ::close(out);
        if (in >= 0) ::close(in);
        pid_ = pid;
        return true;
    }

    bool alive() {
        if (pid_ <= 0) return false;
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            ::kill(-pid_, SIGKILL);  // leftovers of the group, if any
            pid_ = -1;
            return false;
        }
        return true;
    }

    void kill() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

// Polls `cond` every 10 ms until it holds or `timeout_s` passes.
inline bool wait_for(const std::function<bool()>& cond, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Two 20-frame MPEG-TS segments (160x120 then 96x64) glued together, made with the ffmpeg CLI: a mid-stream
// resolution change whose timestamps also restart. "" when the ffmpeg CLI is missing.
inline std::string make_resolution_change_clip(const TempDir& dir) {
    const std::string ffmpeg = find_program("ffmpeg");
    if (ffmpeg.empty()) return {};
    std::string joined;
    for (const auto& [name, size] : {std::pair{"a.ts", "160x120"}, std::pair{"b.ts", "96x64"}}) {
        ChildProcess p;
        if (!p.start({ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                      std::string("testsrc=size=") + size + ":rate=25", "-frames:v", "20", "-c:v", "mpeg2video", "-f",
                      "mpegts", "-y", dir.file(name)}))
            return {};
        if (!wait_for([&] { return !p.alive(); }, 30)) return {};
        joined += read_file(dir.file(name));
    }
    const std::string out = dir.file("ab.ts");
    return write_file(out, joined) ? out : std::string();
}

}  // namespace itscam::video::test
