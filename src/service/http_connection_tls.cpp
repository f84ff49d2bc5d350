// HttpConnection over TLS (http_connection_impl.h).
#include "service/http_connection_impl.h"

namespace itscam::service {

template class HttpConnection<TlsStream>;

}  // namespace itscam::service
