// HttpConnection over plain TCP (http_connection_impl.h).
#include "service/http_connection_impl.h"

namespace itscam::service {

template class HttpConnection<PlainStream>;

}  // namespace itscam::service
