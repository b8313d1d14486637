"""The one table of actions: text, shortcut, icon and menu; menus and the help overlay read it."""

from __future__ import annotations

from typing import NamedTuple


class ActionSpec(NamedTuple):
    """One user action: `slot` names a MainWindow method, or a dotted path from it, called with no arguments."""

    name: str
    text: str
    shortcut: str
    icon: str
    menu: str
    slot: str
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "Open &Folder…", "Ctrl+O", "fa5s.folder-open", "File", "choose_folder"),
    ActionSpec("open_image", "Open &Image…", "Ctrl+Shift+O", "fa5s.image", "File", "choose_image"),
    ActionSpec("open_video", "Open &Video…", "Ctrl+Alt+V", "fa5s.film", "File", "choose_video"),
    ActionSpec("open_project", "Open &Project…", "Ctrl+Alt+O", "fa5s.database", "File", "choose_project"),
    ActionSpec("save_as", "Save Project &As…", "Ctrl+Shift+S", "fa5s.save", "File", "save_as"),
    ActionSpec("export", "&Export…", "Ctrl+E", "fa5s.file-export", "File", "export_dialog"),
    ActionSpec("import", "&Import Annotations…", "Ctrl+I", "fa5s.file-import", "File", "import_dialog"),
    ActionSpec("load_labels", "Load &Label Set…", "", "fa5s.tags", "File", "choose_label_set"),
    ActionSpec("quit", "&Quit", "Ctrl+Q", "fa5s.power-off", "File", "close"),
    ActionSpec("undo", "&Undo", "Ctrl+Z", "fa5s.undo", "Edit", "undo"),
    ActionSpec("redo", "&Redo", "Ctrl+Shift+Z", "fa5s.redo", "Edit", "redo"),
    ActionSpec("new_object", "&New Object (accept)", "N", "fa5s.plus-square", "Edit", "session.new_object"),
    ActionSpec("accept", "Accept Object", "Return", "fa5s.check", "Edit", "session.new_object"),
    ActionSpec("cycle", "Next &Candidate Mask", "Tab", "fa5s.sync", "Edit", "session.cycle_candidate"),
    ActionSpec("delete_object", "&Delete Object", "Delete", "fa5s.trash", "Edit", "edits.delete_object"),
    ActionSpec(
        "merge_objects", "&Merge Selected Objects", "Ctrl+M", "fa5s.object-group", "Edit", "edits.merge_objects"
    ),
    ActionSpec(
        "copy_previous", "Copy Objects from &Previous", "Ctrl+Shift+V", "fa5s.clone", "Edit", "edits.copy_previous"
    ),
    ActionSpec("fill_holes", "&Fill Holes", "F", "fa5s.fill-drip", "Edit", "session.fill_holes"),
    ActionSpec("remove_islands", "Remove &Specks", "R", "fa5s.broom", "Edit", "session.remove_islands"),
    ActionSpec("make_3d", "Make &3D Asset", "Ctrl+3", "fa5s.cube", "Edit", "reconstruction.make_3d"),
    ActionSpec("move_up", "Move Object &Up", "Ctrl+Up", "fa5s.arrow-up", "Edit", "edits.move_object_up"),
    ActionSpec("move_down", "Move Object Do&wn", "Ctrl+Down", "fa5s.arrow-down", "Edit", "edits.move_object_down"),
    ActionSpec("toggle_lock", "&Lock/Unlock Object", "L", "fa5s.lock", "Edit", "edits.toggle_lock"),
    ActionSpec("tool_point", "&Point Tool", "P", "fa5s.mouse-pointer", "Tools", "use_point_tool", True),
    ActionSpec("tool_box", "&Box Tool", "B", "fa5s.vector-square", "Tools", "use_box_tool", True),
    ActionSpec("tool_brush", "B&rush", "D", "fa5s.paint-brush", "Tools", "use_brush_tool", True),
    ActionSpec("tool_eraser", "&Eraser", "E", "fa5s.eraser", "Tools", "use_eraser_tool", True),
    ActionSpec(
        "tool_lasso", "&Lasso (add; right-drag removes)", "A", "fa5s.draw-polygon", "Tools", "use_lasso_tool", True
    ),
    ActionSpec("tool_track_box", "Box &Track Tool", "T", "fa5s.crop-alt", "Tools", "tracks.use_box_tool", True),
    ActionSpec(
        "tool_track_points", "Point Trac&k Tool", "Shift+T", "fa5s.braille", "Tools", "tracks.use_points_tool", True
    ),
    ActionSpec("hover", "&Hover Preview", "H", "fa5s.eye", "Tools", "toggle_hover", True),
    ActionSpec("fit", "&Fit Image", "0", "fa5s.expand", "View", "canvas.fit"),
    ActionSpec("zoom_in", "Zoom &In", "=", "fa5s.search-plus", "View", "zoom_in"),
    ActionSpec("zoom_out", "Zoom &Out", "-", "fa5s.search-minus", "View", "zoom_out"),
    ActionSpec("next_item", "&Next Image", "Right", "fa5s.arrow-right", "Navigate", "next_item"),
    ActionSpec("previous_item", "&Previous Image", "Left", "fa5s.arrow-left", "Navigate", "previous_item"),
    ActionSpec("toggle_done", "Mark &Done", "Ctrl+D", "fa5s.check-circle", "Navigate", "edits.toggle_done"),
    ActionSpec("next_frame", "Next &Frame", ".", "fa5s.step-forward", "Video", "next_frame"),
    ActionSpec("previous_frame", "Previous F&rame", ",", "fa5s.step-backward", "Video", "previous_frame"),
    ActionSpec("first_frame", "F&irst Frame", "Home", "fa5s.fast-backward", "Video", "timeline.first_frame"),
    ActionSpec("last_frame", "&Last Frame", "End", "fa5s.fast-forward", "Video", "timeline.last_frame"),
    ActionSpec("next_keyframe", "Next &Keyframe", "Ctrl+.", "fa5s.key", "Video", "timeline.next_keyframe"),
    ActionSpec("previous_keyframe", "Previous Keyframe", "Ctrl+,", "fa5s.key", "Video", "timeline.previous_keyframe"),
    ActionSpec(
        "copy_forward", "Copy Mask to Next &Frames…", "Ctrl+Shift+F", "fa5s.copy", "Video", "edits.copy_mask_forward"
    ),
    ActionSpec("play", "&Play / Pause", "K", "fa5s.play", "Video", "timeline.toggle_play"),
    ActionSpec(
        "propagate_forward", "Propagate &Forward", "Ctrl+Shift+Right", "fa5s.arrow-right", "Video", "propagate_forward"
    ),
    ActionSpec(
        "propagate_backward", "Propagate &Backward", "Ctrl+Shift+Left", "fa5s.arrow-left", "Video", "propagate_backward"
    ),
    ActionSpec(
        "propagate_both", "Propagate B&oth Ways", "Ctrl+Shift+Up", "fa5s.arrows-alt-h", "Video", "propagate_both"
    ),
    ActionSpec("cancel_propagation", "&Cancel Propagation", "Escape", "fa5s.stop", "Video", "tracks.cancel_all"),
    ActionSpec("track_forward", "Track &Forward", "Ctrl+T", "fa5s.arrow-right", "Track", "tracks.track_forward"),
    ActionSpec(
        "track_backward", "Track &Backward", "Ctrl+Shift+T", "fa5s.arrow-left", "Track", "tracks.track_backward"
    ),
    ActionSpec("track_both", "Track B&oth Ways", "Ctrl+Alt+T", "fa5s.arrows-alt-h", "Track", "tracks.track_both"),
    ActionSpec(
        "interpolate", "&Interpolate Between Keyframes", "Alt+I", "fa5s.grip-lines", "Track", "tracks.interpolate"
    ),
    ActionSpec("retrack", "&Re-track After a Correction", "", "fa5s.redo-alt", "Track", "tracks.toggle_retrack", True),
    ActionSpec("seed_points", "&Seed Points from Mask", "", "fa5s.braille", "Track", "tracks.seed_from_mask"),
    ActionSpec(
        "clear_tracked", "&Clear Tracked Frames (keep keyframes)", "", "fa5s.eraser", "Track", "tracks.clear_tracked"
    ),
    ActionSpec("export_tracks", "E&xport Tracks…", "", "fa5s.file-export", "Track", "tracks.export_tracks"),
    ActionSpec("import_tracks", "I&mport Tracks…", "", "fa5s.file-import", "Track", "tracks.import_tracks"),
    ActionSpec(
        "remove_sample", "&Remove Box/Points on Frame", "", "fa5s.minus-square", "Track", "tracks.remove_sample"
    ),
    ActionSpec("everything", "Segment &Everything", "Ctrl+Shift+E", "fa5s.th", "Review", "find_panel.everything"),
    ActionSpec("find", "&Find…", "Ctrl+F", "fa5s.search", "Review", "focus_find"),
    ActionSpec("find_video", "Find Through the &Video", "", "fa5s.film", "Review", "find_panel.find_through_video"),
    ActionSpec(
        "accept_item",
        "&Accept All on This Item",
        "Ctrl+Shift+A",
        "fa5s.check-double",
        "Review",
        "review.accept_all_on_item",
    ),
    ActionSpec("reject_rest", "&Reject the Rest Here", "Ctrl+Shift+R", "fa5s.times", "Review", "review.reject_rest"),
    ActionSpec(
        "next_to_review", "&Next Item to Review", "Ctrl+J", "fa5s.forward", "Review", "review.next_item_to_review"
    ),
    ActionSpec("only_to_review", "&Only Items to Review", "", "fa5s.filter", "Review", "review.toggle_filter", True),
    ActionSpec("help", "&Keyboard Shortcuts", "F1", "fa5s.keyboard", "Help", "show_help"),
)

MENUS: tuple[str, ...] = ("File", "Edit", "Tools", "View", "Navigate", "Video", "Track", "Review", "Help")


def help_text() -> str:
    """Shortcut table as HTML for the help overlay (read from ACTIONS, so never out of date)."""
    rows = [f"<tr><td><b>{a.shortcut}</b></td><td>{a.text.replace('&', '')}</td></tr>" for a in ACTIONS if a.shortcut]
    extra = [
        ("Left click", "positive point (Point tool)"),
        ("Right / Shift click", "negative point (refines the selected object)"),
        ("Ctrl + click", "select the object under the pointer (on the background: none)"),
        ("Drag", "box (Box tool), paint (Brush/Eraser), outline (Lasso), box keyframe (Box Track tool)"),
        ("Drag a box corner, edge or point", "correct a track on this frame (a keyframe; Track tools)"),
        ("Right click a track point", "occluded / visible (Point Track tool)"),
        ("Ctrl + wheel", "brush size (Brush/Eraser)"),
        ("Wheel", "zoom at the cursor"),
        ("Middle drag / Space + drag", "pan"),
        ("1 … 9", "give the selected object label 1 … 9"),
    ]
    rows += [f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in extra]
    return "<table cellspacing=6>" + "".join(rows) + "</table>"
