# Every optional dependency fails loudly, naming the Debian package, when its option is ON and it is missing.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
# libcrypto (SHA-256 of the source model in plans, through EVP): always needed. Needs <openssl/evp.h>, <openssl/err.h>
# with the headers they include (on Debian/Ubuntu also <x86_64-linux-gnu/openssl/configuration.h> and
# opensslconf.h), and libcrypto.so. OpenSSL 1.1 or 3.
find_package(OpenSSL 1.1 QUIET COMPONENTS Crypto)
if(NOT OpenSSL_FOUND OR NOT TARGET OpenSSL::Crypto)
  message(FATAL_ERROR "OpenSSL libcrypto (openssl/evp.h and libcrypto.so, 1.1 or newer) was not found: install "
                      "libssl-dev (Debian/Ubuntu), or point CMake at a copy with -DOPENSSL_ROOT_DIR=<prefix> "
                      "(<prefix>/include/openssl/evp.h, <prefix>/lib/libcrypto.so), or with "
                      "-DOPENSSL_INCLUDE_DIR=<dir> -DOPENSSL_CRYPTO_LIBRARY=<path to libcrypto.so[.3]>")
endif()
message(STATUS "OpenSSL libcrypto ${OPENSSL_VERSION}: ${OPENSSL_CRYPTO_LIBRARY} (${OPENSSL_INCLUDE_DIR})")
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
  if(NOT CLI11_INCLUDE_DIR)
    message(FATAL_ERROR "CLI11 not found: install libcli11-dev")
  endif()
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

if(ITSCAM_WITH_ONNX)
  find_package(Protobuf QUIET)
  find_package(ONNX QUIET)
  if(NOT Protobuf_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_ONNX=ON but protobuf was not found: install libprotobuf-dev (or pass -DITSCAM_WITH_ONNX=OFF)")
  endif()
  if(NOT ONNX_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_ONNX=ON but ONNX was not found: install libonnx-dev (or pass -DITSCAM_WITH_ONNX=OFF)")
  endif()
endif()

if(ITSCAM_WITH_ONEDNN)
  find_package(dnnl QUIET)
  if(NOT dnnl_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_ONEDNN=ON but oneDNN was not found: install libdnnl-dev (or pass -DITSCAM_WITH_ONEDNN=OFF)")
  endif()
endif()

if(ITSCAM_WITH_OPENCV)
  # Debian ships OpenCVConfig.cmake only in the (large) libopencv-dev; the per-module -dev packages we install
  # have headers and libraries only, so look for those directly when the config package is absent.
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  if(NOT OpenCV_FOUND)
    find_path(OpenCV_INCLUDE_DIRS opencv2/core.hpp PATH_SUFFIXES opencv4)
    set(OpenCV_LIBS)
    foreach(m core imgproc imgcodecs)
      find_library(OpenCV_${m}_LIBRARY opencv_${m})
      if(NOT OpenCV_${m}_LIBRARY OR NOT OpenCV_INCLUDE_DIRS OR NOT EXISTS "${OpenCV_INCLUDE_DIRS}/opencv2/${m}.hpp")
        message(FATAL_ERROR "ITSCAM_WITH_OPENCV=ON but OpenCV ${m} was not found: "
                            "install libopencv-imgproc-dev libopencv-imgcodecs-dev (or pass -DITSCAM_WITH_OPENCV=OFF)")
      endif()
      list(APPEND OpenCV_LIBS ${OpenCV_${m}_LIBRARY})
    endforeach()
  endif()
endif()

if(ITSCAM_WITH_FFMPEG)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(FFMPEG QUIET IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
  endif()
  if(NOT FFMPEG_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_FFMPEG=ON but FFmpeg was not found: install pkg-config libavformat-dev libavcodec-dev "
                        "libswscale-dev libavutil-dev, or (a machine without packages) source tools/gpu/use_product.sh")
  endif()
  # A packed set (tools/gpu/use_product.sh) keeps the libraries' own dependencies elsewhere: the linker finds them
  # through LD_LIBRARY_PATH, which that script exports.
  message(STATUS "FFmpeg: libavcodec ${FFMPEG_libavcodec_VERSION}, libavformat ${FFMPEG_libavformat_VERSION} "
                 "(${FFMPEG_LIBRARY_DIRS})")
endif()

# NVDEC (GPU video decoding) needs FFmpeg (demuxing) and only the ffnvcodec headers at build time: the driver
# libraries are loaded at run time, so this builds and links on machines without CUDA or a driver.
set(ITSCAM_NVDEC_ENABLED OFF)
if(ITSCAM_WITH_NVDEC)
  if(NOT ITSCAM_WITH_FFMPEG)
    message(STATUS "NVDEC decoding off: it needs ITSCAM_WITH_FFMPEG")
  else()
    pkg_check_modules(FFNVCODEC QUIET IMPORTED_TARGET ffnvcodec)
    if(FFNVCODEC_FOUND)
      set(ITSCAM_NVDEC_ENABLED ON)
      message(STATUS "NVDEC decoding on (ffnvcodec ${FFNVCODEC_VERSION} headers)")
    else()
      message(STATUS "NVDEC decoding off: the ffnvcodec headers were not found (install libffmpeg-nvenc-dev)")
    endif()
  endif()
endif()

if(ITSCAM_WITH_YAML)
  find_package(yaml-cpp QUIET)
  if(NOT yaml-cpp_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_YAML=ON but yaml-cpp was not found: install libyaml-cpp-dev (or pass -DITSCAM_WITH_YAML=OFF)")
  endif()
endif()

if(ITSCAM_WITH_SERVICE)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
    pkg_check_modules(SQLITE3 QUIET IMPORTED_TARGET sqlite3)
    pkg_check_modules(MOSQUITTO QUIET IMPORTED_TARGET libmosquitto)
  endif()
  find_package(prometheus-cpp CONFIG QUIET)
  # The HTTP server: Boost.Beast/Asio (header-only) over libssl for HTTPS. cpp-httplib is the webhook's client.
  find_package(Boost 1.74 QUIET)
  find_package(OpenSSL 1.1 QUIET COMPONENTS SSL)
  if(NOT HTTPLIB_FOUND OR NOT SQLITE3_FOUND OR NOT prometheus-cpp_FOUND OR NOT Boost_FOUND OR NOT TARGET OpenSSL::SSL
     OR NOT MOSQUITTO_FOUND)
    message(FATAL_ERROR "ITSCAM_WITH_SERVICE=ON needs libcpp-httplib-dev, libsqlite3-dev, prometheus-cpp-dev, "
                        "libboost-dev (1.74 or newer), libssl-dev and libmosquitto-dev (or pass "
                        "-DITSCAM_WITH_SERVICE=OFF)")
  endif()
endif()

if(ITSCAM_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "ITSCAM_WITH_CUDA=ON but nvcc was not found: install the CUDA toolkit or set CMAKE_CUDA_COMPILER")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # Hopper (H100/H200) machine code + PTX, which the driver JIT-compiles on newer GPUs. Override for others.
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # cuDNN 9: with the toolkit (/usr/local/cuda) or from the distribution's packages.
  find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} PATHS /usr/include/x86_64-linux-gnu /usr/include)
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
               HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib PATHS /usr/lib/x86_64-linux-gnu)
  if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
    message(FATAL_ERROR "ITSCAM_WITH_CUDA=ON needs cuDNN 9 (cudnn.h and libcudnn): install it or pass CUDNN_INCLUDE_DIR "
                        "and CUDNN_LIBRARY")
  endif()
  add_library(itscam_cudnn INTERFACE)
  target_include_directories(itscam_cudnn INTERFACE ${CUDNN_INCLUDE_DIR})
  target_link_libraries(itscam_cudnn INTERFACE ${CUDNN_LIBRARY})
  message(STATUS "cuDNN: ${CUDNN_LIBRARY} (${CUDNN_INCLUDE_DIR}); CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
endif()

if(ITSCAM_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "ITSCAM_BUILD_TESTS=ON but GoogleTest was not found: install libgtest-dev")
  endif()
endif()
if(ITSCAM_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(FATAL_ERROR "ITSCAM_BUILD_BENCH=ON but Google Benchmark was not found: install libbenchmark-dev")
  endif()
endif()
