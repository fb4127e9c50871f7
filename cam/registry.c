/* cam/registry.c — every CAM method, in the order pytorch-grad-cam's cam.py
 * lists them; see method.h. */
#include "cam/method.h"

#include <string.h>

extern const cc_cam_method cc_cam_gradcam, cc_cam_hirescam, cc_cam_gradcam_elementwise, cc_cam_gradcam_plusplus,
    cc_cam_xgradcam, cc_cam_layercam, cc_cam_eigencam, cc_cam_eigengradcam, cc_cam_kpcacam, cc_cam_scorecam,
    cc_cam_ablationcam, cc_cam_fullgrad, cc_cam_fem, cc_cam_finercam, cc_cam_segeigencam, cc_cam_randomcam;

const cc_cam_method *const cc_cam_methods[] = {
    &cc_cam_gradcam, &cc_cam_hirescam, &cc_cam_gradcam_elementwise, &cc_cam_gradcam_plusplus, &cc_cam_xgradcam,
    &cc_cam_layercam, &cc_cam_eigencam, &cc_cam_eigengradcam, &cc_cam_kpcacam, &cc_cam_scorecam,
    &cc_cam_ablationcam, &cc_cam_fullgrad, &cc_cam_fem, &cc_cam_finercam, &cc_cam_segeigencam, &cc_cam_randomcam,
    NULL,
};

const cc_cam_method *cc_cam_method_find(const char *name)
{
    for (int i = 0; name && cc_cam_methods[i]; i++)
        if (!strcmp(cc_cam_methods[i]->name, name))
            return cc_cam_methods[i];
    return NULL;
}
