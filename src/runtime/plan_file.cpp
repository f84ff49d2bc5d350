// Plan files: atomic writes, reads that check the preamble before allocating, header-only reads, and the
// SHA-256 of a source model file.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "core/regular_file.h"
#include "runtime/plan.h"
#include "runtime/plan_format.h"
#include "runtime/plan_integrity.h"

namespace itscam {

namespace {

Status read_fully(int fd, std::byte* dst, size_t n, const std::string& path) {
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::read(fd, dst + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error("cannot read plan '" + path + "': " + std::strerror(errno));
        if (r == 0) return corrupt("plan '" + path + "' changed size while being read");
        done += static_cast<size_t>(r);
    }
    return Status::ok();
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Never blocks on a named pipe, and names what a non-regular path is (core/regular_file.h).
Result<uint64_t> open_plan(const std::string& path, Fd& f) {
    ITSCAM_ASSIGN_OR_RETURN(RegularFile rf, RegularFile::open(path, "cannot open plan '" + path + "': "));
    f.fd = rf.release();
    return rf.size();
}

}  // namespace

Result<std::string> sha256_file(const std::string& path) {
    ITSCAM_ASSIGN_OR_RETURN(RegularFile rf, RegularFile::open(path, "cannot open '" + path + "': "));
    Fd f;
    f.fd = rf.release();
    ITSCAM_ASSIGN_OR_RETURN(Sha256 s, Sha256::create());
    std::vector<unsigned char> buf(1 << 20);
    for (;;) {
        const ssize_t r = ::read(f.fd, buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error("cannot read '" + path + "': " + std::strerror(errno));
        if (r == 0) break;
        ITSCAM_RETURN_IF_ERROR(s.update(buf.data(), static_cast<size_t>(r)));
    }
    return s.finish_hex();
}

Status plan_write(const Plan& plan, const std::string& path) {
    ITSCAM_ASSIGN_OR_RETURN(std::string bytes, plan_serialize(plan));
    namespace fs = std::filesystem;
    const fs::path target(path);
    std::random_device rd;
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot create '" + tmp + "': " + std::strerror(errno));
    auto fail = [&](const std::string& what) {
        const std::string msg = what + " '" + tmp + "': " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return io_error(msg);
    };
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t r = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail("cannot write");
        done += static_cast<size_t>(r);
    }
    if (::fsync(fd) != 0) return fail("cannot sync");
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return io_error("cannot close '" + tmp + "': " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string msg = std::strerror(errno);
        ::unlink(tmp.c_str());
        return io_error("cannot rename '" + tmp + "' to '" + path + "': " + msg);
    }
    // Make the rename durable.
    const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return Status::ok();
}

Result<Plan> plan_read(const std::string& path, PlanFileStats* stats) {
    Fd f;
    auto size = open_plan(path, f);
    if (!size) return size.status();
    if (*size > (uint64_t{1} << 40)) return corrupt("plan '" + path + "' is absurdly large");
    // Check the preamble before allocating the whole file.
    std::byte pre[kPlanPreambleBytes];
    const size_t head = static_cast<size_t>(std::min<uint64_t>(*size, kPlanPreambleBytes));
    Status st = read_fully(f.fd, pre, head, path);
    if (!st.is_ok()) return st;
    auto pr = plan_parse_preamble(pre, head, *size);
    if (!pr) return pr.status().with_context(path);
    std::shared_ptr<std::byte> buf = plan_aligned_buffer(static_cast<size_t>(*size));
    std::memcpy(buf.get(), pre, head);
    st = read_fully(f.fd, buf.get() + head, static_cast<size_t>(*size) - head, path);
    if (!st.is_ok()) return st;
    auto plan = plan_parse_buffer(buf, static_cast<size_t>(*size), {}, stats);
    if (!plan) return plan.status().with_context(path);
    return plan;
}

Result<PlanInfo> plan_read_info(const std::string& path) {
    Fd f;
    auto size = open_plan(path, f);
    if (!size) return size.status();
    std::byte pre[kPlanPreambleBytes];
    const size_t head = static_cast<size_t>(std::min<uint64_t>(*size, kPlanPreambleBytes));
    ITSCAM_RETURN_IF_ERROR(read_fully(f.fd, pre, head, path));
    auto pr = plan_parse_preamble(pre, head, *size);
    if (!pr) return pr.status().with_context(path);
    std::vector<std::byte> buf(kPlanPreambleBytes + pr->header_bytes);
    std::memcpy(buf.data(), pre, kPlanPreambleBytes);
    ITSCAM_RETURN_IF_ERROR(read_fully(f.fd, buf.data() + kPlanPreambleBytes, pr->header_bytes, path));
    auto h = plan_parse_header(buf.data(), *pr);
    if (!h) return h.status().with_context(path);
    auto info = plan_info_from_header(*h);
    if (!info) return info.status().with_context(path);
    return info;
}

bool is_plan_file(const std::string& path) {
    // Not a regular file (a pipe would block here): not a plan; the model loader then says what it is.
    auto rf = RegularFile::open(path, "");
    if (!rf) return false;
    Fd f;
    f.fd = rf->release();
    char magic[8];
    size_t done = 0;
    while (done < 8) {
        const ssize_t r = ::read(f.fd, magic + done, 8 - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += static_cast<size_t>(r);
    }
    return std::memcmp(magic, kPlanMagic, 8) == 0;
}

}  // namespace itscam
