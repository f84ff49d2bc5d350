#include "core/thread_info.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace itscam {

void set_thread_name(const std::string& name) {
    (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

namespace {

// The role of a thread name: up to the first ':' or digit ("cap:cam7" -> "cap", "infer0" -> "infer").
std::string role_of(const std::string& comm) {
    std::string r;
    for (char c : comm) {
        if (c == ':' || std::isdigit(static_cast<unsigned char>(c))) break;
        r += c;
    }
    while (!r.empty() && (r.back() == '-' || r.back() == '_' || r.back() == ' ')) r.pop_back();
    return r.empty() ? comm : r;
}

}  // namespace

std::map<std::string, double> thread_cpu_by_role() {
    std::map<std::string, double> out;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    DIR* d = opendir("/proc/self/task");
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/stat");
        std::string line;
        if (!std::getline(f, line)) continue;  // the thread ended meanwhile
        // "tid (comm) state ...": comm may hold spaces and parentheses, so it ends at the last ')'.
        const size_t open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close < open) continue;
        const std::string comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 2));
        std::string field;
        // Fields after comm: state(3) ... utime(14) stime(15); rest starts at field 3.
        unsigned long long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
            if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
        }
        out[role_of(comm)] += static_cast<double>(utime + stime) / tick;
    }
    closedir(d);
    return out;
}

double process_cpu_seconds() {
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace itscam
