"""Box drawing on real PIL images: where the boxes land, labels, contrast on light and dark."""
from PIL import Image

from app.draw import DARK, PALETTE, draw_boxes, text_colour, to_pixels
from engine.api import Box


def test_box_lands_where_normalized_coords_say():
    img = Image.new("RGB", (400, 200), (128, 128, 128))
    out = draw_boxes(img, [Box(ref=0, image_index=0, x1=0.25, y1=0.5, x2=0.75, y2=1.0)])
    assert out.size == img.size and img.getpixel((100, 150)) == (128, 128, 128)  # input untouched
    x1, y1, x2, y2 = to_pixels((0.25, 0.5, 0.75, 1.0), 400, 200)
    assert (x1, y1, x2, y2) == (100, 100, 299, 199)
    assert out.getpixel((x1, 150)) == DARK                      # dark outer edge
    assert PALETTE[0] in {out.getpixel((x1 - d, 150)) for d in range(1, 4)}  # colour just outside
    assert out.getpixel((x1 + 6, 150)) == (128, 128, 128)        # the inside is left alone
    assert out.getpixel((200, 150)) == (128, 128, 128)
    assert out.getpixel((390, 20)) == (128, 128, 128)            # far away: untouched


def test_label_is_drawn_and_readable_on_light_and_dark():
    for bg in ((255, 255, 255), (0, 0, 0)):
        img = Image.new("RGB", (300, 300), bg)
        out = draw_boxes(img, [(3, (0.3, 0.3, 0.6, 0.6))])
        # the label "[3]" sits just above the box: its patch holds the box colour and text pixels
        label = out.crop((90, 60, 140, 89)).getcolors(10000)
        colours = {c for _, c in label}
        assert PALETTE[3] in colours and text_colour(PALETTE[3]) in colours
        edge = {out.getpixel((89 + d, 150)) for d in range(0, 10)}
        assert DARK in edge and PALETTE[3] in edge  # a coloured line between dark lines


def test_boxes_outside_or_reversed_are_clamped():
    assert to_pixels((1.2, 0.9, -0.1, 0.1), 101, 11) == (0, 1, 100, 9)
    out = draw_boxes(Image.new("RGB", (50, 50)), [(0, (0.0, 0.0, 1.0, 1.0))])  # label inside
    assert out.size == (50, 50)


def test_text_colour_contrast():
    assert text_colour((240, 228, 66)) == (0, 0, 0)
    assert text_colour((0, 114, 178)) == (255, 255, 255)
