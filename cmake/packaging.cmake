# The Debian package: `cpack -G DEB` in a Release build folder writes itscam_<version>_<arch>.deb
# (docs/deploy.md). Included from the top CMakeLists.txt after the targets exist.
#
#   /usr/bin/itscam                        the CLI and service (the dashboard is compiled in)
#   /etc/itscam/itscam.yaml                the service's config, a conffile (packaging/itscam.yaml)
#   /lib/systemd/system/itscam.service     the unit (packaging/itscam.service)
#   /usr/share/doc/itscam/                 docs/*.md and example.yaml (every setting)
# packaging/deb/ holds the maintainer scripts (the itscam user, /var/lib/itscam, the unit's state) and conffiles.
#
# The system paths are absolute install destinations: the package is their only consumer. `cmake --install` is not
# a supported way to install itscam; the package is.

set(ITSCAM_PACKAGE_MAINTAINER "ITS Camera AI maintainers <maintainers@users.noreply.r-seed-6d8ac3f5.example>"
    CACHE STRING "Maintainer field of the Debian package")

install(TARGETS itscam RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/itscam.yaml DESTINATION /etc/itscam)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/itscam.service DESTINATION /lib/systemd/system)
file(GLOB ITSCAM_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${ITSCAM_DOCS} ${PROJECT_SOURCE_DIR}/configs/example.yaml DESTINATION share/doc/itscam)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME itscam)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})  # itscam --version prints the same, and the commit
set(CPACK_PACKAGE_VENDOR "ITS Camera AI")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time YOLO11 traffic-camera video analytics service")
# Lines of at most 80 columns: dpkg shows them as written.
set(CPACK_PACKAGE_DESCRIPTION "itscam runs YOLO11 object detection on many traffic cameras at once (RTSP,
HTTP, files), with tracking, counting lines, zones and speed, an HTTP API with
a dashboard, health checks and Prometheus metrics, alert rules, SQLite history
and reports, live annotated video, and events to an MQTT broker. It runs as
the systemd service itscam.service. The model weights are not included: see
/usr/share/doc/itscam/deploy.md.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # itscam_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ITSCAM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries: dpkg-shlibdeps finds the packages of what the binary links (libav*, oneDNN, OpenCV, ...).
# adduser: the postinst creates the itscam user. GPU libraries (the NVIDIA driver's NVML and NVDEC) are loaded at
# run time when present and are not dependencies.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # scripts 0755, conffiles 0644, whatever the checkout's modes
include(CPack)
