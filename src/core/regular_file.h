// Regular files opened by path: models, configs, plans, token files, local video files, the history database.
// Each of these must be a plain file on a real file system. Anything else misbehaves in ways that are hard to read:
// open() on a named pipe blocks until a writer appears (start-up hangs and SIGTERM waits behind it), /dev/zero and
// /proc files report a size of 0 ("file is empty") and a directory reports a meaningless size ("larger than 2 GiB").
// These checks say what the path is instead, and never block: they stat() first and open with O_NONBLOCK.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/status.h"

namespace itscam {

// What a non-regular mode is, as the tail of a message: "is a named pipe, not a regular file", "is a directory",
// "is a character device, not a regular file", ... ("" for a regular file).
std::string describe_non_regular(mode_t mode);

// OK when `path` (symlinks followed) is a regular file on a real file system. Otherwise kNotFound ("no such file"),
// kInvalidArgument (the describe_non_regular() text, or "is a /proc or /sys file, not a regular file"), or kIo
// (permission denied, ...); the message is `label` followed by that text, e.g. label "model file 'm.onnx': ".
// Opens nothing.
Status check_regular_file(const std::string& path, const std::string& label);

// A regular file opened read-only (close-on-exec), closed by the destructor. open() runs check_regular_file, opens
// with O_NONBLOCK (so a file swapped for a pipe after the check cannot block either), checks the opened file again
// with fstat, then clears O_NONBLOCK.
class RegularFile {
public:
    static Result<RegularFile> open(const std::string& path, const std::string& label);
    RegularFile(RegularFile&& o) noexcept;
    RegularFile& operator=(RegularFile&& o) noexcept;
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;
    ~RegularFile();

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }  // at open time
    // Hands the descriptor to the caller (who closes it); this object then holds none.
    int release() { return std::exchange(fd_, -1); }
    // The whole file from the start, at most max_bytes: more than that (the file grew) is kInvalidArgument
    // "<label>is larger than <max_bytes> bytes".
    Result<std::string> read_all(size_t max_bytes) const;

private:
    RegularFile(int fd, uint64_t size, std::string label) : fd_(fd), size_(size), label_(std::move(label)) {}
    int fd_ = -1;
    uint64_t size_ = 0;
    std::string label_;
};

}  // namespace itscam
