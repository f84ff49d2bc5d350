// Keeping credentials out of everything the service shows or stores outside its config: API answers, logs, history
// rows, reports, webhook errors, FFmpeg's own messages, `--print-config`.
//
// Two mechanisms, because neither alone is enough:
//   - structural: the userinfo of every URL in a text is masked (rtsp://admin:***@host/...), whatever the scheme
//     and wherever the URL sits in free text (an FFmpeg error, a last_error). This needs no knowledge of the secret.
//   - by value: secrets the process knows (the API and read tokens, camera passwords) are replaced with *** wherever
//     they appear, for the forms the first cannot see (a password printed on its own, percent-decoded, ...).
// A masked part is always written "***". Masking is idempotent: masking a masked text changes nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace itscam {

// What replaces a hidden part.
inline constexpr std::string_view kMask = "***";

// Every "scheme://" in `text` starts a URL; its authority runs to the first '/', '?', '#', white space, control
// byte, '"', '<', '>', '\\' or '`'. If the authority has an '@' (the last one, as FFmpeg splits it: a raw '@' in a
// password stays hidden), what is before it is the userinfo: "user:password" keeps the user and masks the password
// (rtsp://admin:***@host), a userinfo without ':' (a token used as user name) is masked whole (https://***@host).
// An '@' in the path or query and the ':' of IPv6 hosts ([::1]) or ports are not userinfo; nor is the '@' of our
// own test source synthetic://WxH@FPS.
std::string mask_url_userinfo(std::string_view text);

// `text` with every occurrence of each non-empty secret replaced by ***; overlapping or adjacent occurrences become
// one ***. No secret that holds no '*' can remain in the result.
std::string redact_secrets(std::string_view text, const std::vector<std::string>& secrets);

// The secret in the userinfo of the first URL in `url` (its password; the whole userinfo when it has no ':'), as
// written and percent-decoded (both, when they differ); empty when it has none.
std::vector<std::string> url_secrets(std::string_view url);

// The process-wide set of known secrets (thread-safe). Secrets shorter than kMinRegisteredSecret bytes are not kept:
// replacing every "abc" in every log line would do more harm than the structural masking leaves undone. At most
// kMaxRegisteredSecrets are kept (cameras added at run time register theirs); past that only the structural masking
// applies to new ones.
inline constexpr size_t kMinRegisteredSecret = 4;
inline constexpr size_t kMaxRegisteredSecrets = 1024;
void register_secret(std::string_view secret);
// Registers url_secrets(url).
void register_url_secrets(std::string_view url);
std::vector<std::string> registered_secrets();

// What any free text shown outside the process goes through: the registered secrets and URL userinfo masked (one
// pass over the text: a part hidden by either becomes ***).
std::string redact(std::string_view text);

}  // namespace itscam
