"""Qt views: main window, canvas, tools, layer list, timeline, panels, dialogs."""
