#include "core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace itscam {

namespace {

// statfs f_type of the kernel's virtual file systems (linux/magic.h): their files report st_size 0 (or 4096) and
// generate content on read, so a size check on them means nothing.
constexpr long kProcSuperMagic = 0x9fa0;
constexpr long kSysfsMagic = 0x62656572;

bool is_virtual_fs(long f_type) {
    return f_type == kProcSuperMagic || f_type == kSysfsMagic;
}

Status errno_status(int err, const std::string& label) {
    switch (err) {
        case ENOENT:
        case ENOTDIR: return not_found(label + "no such file");
        case EACCES:
        case EPERM: return io_error(label + "permission denied");
        case ELOOP: return invalid_argument(label + "too many levels of symbolic links");
        case ENAMETOOLONG: return invalid_argument(label + "the path is too long");
        default: return io_error(label + std::strerror(err));
    }
}

Status check_mode(mode_t mode, const std::string& label) {
    if (S_ISREG(mode)) return Status::ok();
    return invalid_argument(label + describe_non_regular(mode));
}

}  // namespace

std::string describe_non_regular(mode_t mode) {
    if (S_ISREG(mode)) return "";
    if (S_ISDIR(mode)) return "is a directory";
    if (S_ISFIFO(mode)) return "is a named pipe, not a regular file";
    if (S_ISCHR(mode)) return "is a character device, not a regular file";
    if (S_ISBLK(mode)) return "is a block device, not a regular file";
    if (S_ISSOCK(mode)) return "is a socket, not a regular file";
    return "is not a regular file";
}

Status check_regular_file(const std::string& path, const std::string& label) {
    if (path.empty()) return invalid_argument(label + "the path is empty");
    if (path.find('\0') != std::string::npos) return invalid_argument(label + "the path contains a NUL byte");
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) return errno_status(errno, label);
    ITSCAM_RETURN_IF_ERROR(check_mode(sb.st_mode, label));
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) == 0 && is_virtual_fs(static_cast<long>(fs.f_type)))
        return invalid_argument(label + "is a /proc or /sys file, not a regular file");
    return Status::ok();
}

Result<RegularFile> RegularFile::open(const std::string& path, const std::string& label) {
    ITSCAM_RETURN_IF_ERROR(check_regular_file(path, label));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return errno_status(errno, label);
    RegularFile f(fd, 0, label);
    struct stat sb {};
    if (::fstat(fd, &sb) != 0) return errno_status(errno, label);
    ITSCAM_RETURN_IF_ERROR(check_mode(sb.st_mode, label));
    struct statfs fs {};
    if (::fstatfs(fd, &fs) == 0 && is_virtual_fs(static_cast<long>(fs.f_type)))
        return invalid_argument(label + "is a /proc or /sys file, not a regular file");
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return errno_status(errno, label);
    f.size_ = static_cast<uint64_t>(sb.st_size);
    return Result<RegularFile>(std::move(f));
}

RegularFile::RegularFile(RegularFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), size_(o.size_), label_(std::move(o.label_)) {}

RegularFile& RegularFile::operator=(RegularFile&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        size_ = o.size_;
        label_ = std::move(o.label_);
    }
    return *this;
}

RegularFile::~RegularFile() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::string> RegularFile::read_all(size_t max_bytes) const {
    std::string out;
    // One byte past the limit tells a file that grew since open from one that is exactly max_bytes long.
    out.resize(static_cast<size_t>(std::min<uint64_t>(size_, max_bytes)) + 1);
    size_t done = 0;
    off_t pos = 0;
    for (;;) {
        if (done == out.size()) {
            if (out.size() > max_bytes) break;
            out.resize(std::min(out.size() * 2, max_bytes + 1));
        }
        const ssize_t r = ::pread(fd_, out.data() + done, out.size() - done, pos);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error(label_ + "cannot read: " + std::strerror(errno));
        if (r == 0) break;
        done += static_cast<size_t>(r);
        pos += static_cast<off_t>(r);
    }
    if (done > max_bytes)
        return invalid_argument(label_ + "is larger than " + std::to_string(max_bytes) + " bytes");
    out.resize(done);
    return out;
}

}  // namespace itscam
