/* The firmware's version and identity, as the banner and `version` print them. */
#ifndef HILT_FW_VERSION_H
#define HILT_FW_VERSION_H

#define HILT_FW_VERSION "0.1.0"

/* The device id, chosen at build time (`build --id N`): it makes the interface
 * identifier, so several devices on one border router have distinct addresses. */
#ifndef HILT_FW_ID
#define HILT_FW_ID 1
#endif

#endif
