"""The view layer: pure functions from broker state to tables (HTML and text) and pictures (SVG, DOT).

One layer feeds Jupyter (``_repr_html_``, ``_repr_svg_``), the text reprs of a
REPL, and any driver that shows the broker (a management web page) through
the public ``amqpmodel.views``. Nothing here runs on the message path: a view
reads the broker's state when it is shown, under the broker lock, and
imports no Jupyter module.

- ``_table``: ``Table`` and ``Cell``, rendered to HTML or aligned text.
- ``_values``: how one field value (a header, a property, a body) is shown.
- ``_rows``: the tables of queues, exchanges, bindings, connections,
  channels, consumers, messages and unacknowledged deliveries.
- ``_collections``: the dict and list subclasses ``broker.queues`` and friends
  return, which render as those tables.
- ``_graph``, ``_layout``, ``_metrics``, ``_svg``: the topology picture (the
  graph read from a vhost, a layered layout, text sizes, the drawing).
"""
