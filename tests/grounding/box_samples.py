"""Real output of each model, copied from its documentation or its authors' code, with what it means.

expected: (display text, [boxes normalized to the ORIGINAL image]) for the image size and geometry
given. Sources:
- qwen_vl: Qwen-VL README (Qwen-VL-Chat "框出图中击掌的位置"), as quoted in hhaAndroid/Qwen-VL qwen-vl-chat.py
- qwen2_5_vl: Qwen-VL fine-tune GROUNDING_DATA_FORMAT.md answer, wrapped as Qwen2.5-VL's cookbook
  prints it (```json fence)
- qwen3_vl: Qwen3-VL repo's qwen-vl-finetune/GROUNDING_DATA_FORMAT.md (Qwen3-VL: 0..1000 relative,
  its example box), in the same JSON answer as Qwen2.5-VL
- kosmos2: microsoft/kosmos-2-patch14-224 model card (cleanup_and_extract=False output); boxes as the
  card's entities
- florence2: transformers' Florence-2 processor test (text_with_phrase)
- paligemma: big_vision paligemma_parse.py EXAMPLE_STRING (first two objects, seg tokens kept)
- shikra: shikra's PlainBoxFormatter format (3 decimals, ';' between boxes of one object)
- minigpt_v2: MiniGPT-v2 demo's grounding answer as quoted in a demo fork ("<p>sofas</p> ...")
"""
S = {
    "qwen_vl": dict(
        text="<ref>击掌</ref><box>(536,509),(588,602)</box>",
        size=(1024, 683), geometry=None,
        expected=("击掌[0]", [(0.536, 0.509, 0.588, 0.602)])),
    "qwen2_5_vl": dict(
        text='```json\n[\n\t{"bbox_2d": [135, 114, 1016, 672], "label": "house"}\n]\n```',
        size=(1200, 800), geometry=None,   # smart_resize -> 1204 x 812
        expected=("```json\n[\n\thouse [0]\n]\n```", [(135 / 1204, 114 / 812, 1016 / 1204, 672 / 812)])),
    "qwen3_vl": dict(
        text='```json\n[\n\t{"bbox_2d": [125, 250, 500, 750], "label": "house"}\n]\n```',
        size=(1200, 800), geometry=None,   # relative: the image's size does not matter
        expected=("```json\n[\n\thouse [0]\n]\n```", [(0.125, 0.25, 0.5, 0.75)])),
    "kosmos2": dict(
        text="<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863>"
             "</object> warming himself by<phrase> a fire</phrase><object><patch_index_0005><patch_index_0911>"
             "</object>.",
        size=(500, 375), geometry=None,
        expected=(" An image of a snowman[0] warming himself by a fire[1].",
                  [(0.390625, 0.046875, 0.984375, 0.828125), (0.171875, 0.015625, 0.484375, 0.890625)])),
    "florence2": dict(
        text="</s><s>car<loc_53><loc_334><loc_933><loc_775>door handle<loc_425><loc_504><loc_474><loc_516></s><pad>",
        size=(1000, 1000), geometry=None,
        expected=("car[0] door handle[1] ", [(.0535, .3345, .9335, .7755), (.4255, .5045, .4745, .5165)])),
    "paligemma": dict(
        text="<loc0000><loc0000><loc0930><loc1012> <seg114><seg074><seg106><seg044><seg030><seg027><seg119>"
             "<seg119><seg120><seg117><seg082><seg082><seg051><seg005><seg125><seg097> wall ; "
             "<loc0722><loc0047><loc0895><loc0378> car",
        size=(896, 896), geometry=None,
        expected=("[0]  wall ; [1] car", [(0, 0, 1012 / 1024, 930 / 1024), (47 / 1024, 722 / 1024, 378 / 1024, 895 / 1024)])),
    "shikra": dict(
        text="The man[0.120,0.314,0.404,0.977] is holding an umbrella[0.003,0.004,0.602,0.605;0.500,0.500,0.600,0.600].",
        size=(640, 480), geometry=None,   # padded square 640x640, image 80 px down
        expected=("The man[0] is holding an umbrella[1][2].",
                  [(0.120, (0.314 * 640 - 80) / 480, 0.404, 1.0), (0.003, 0.0, 0.602, (0.605 * 640 - 80) / 480),
                   (0.5, (0.5 * 640 - 80) / 480, 0.6, (0.6 * 640 - 80) / 480)])),
    "minigpt_v2": dict(
        text="<p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43><71>}",
        size=(448, 448), geometry=None,
        expected=("sofas [0][1]", [(.57, .49, .70, .72), (.26, .48, .43, .71)])),
}
