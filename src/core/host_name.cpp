#include "core/host_name.h"

#include <unistd.h>

#include <climits>

namespace itscam {

std::string sanitized_host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "itscam";
    std::string node(buf);
    for (char& ch : node) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '_' || ch == '.' || ch == '-';
        if (!ok) ch = '_';
    }
    return node;
}

}  // namespace itscam
