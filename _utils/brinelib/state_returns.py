"""
A Salt state's return, built one way by every Brine state (Salt's own states are the model):
``changes`` has the same shape with and without ``test=True``, and ``result`` is None when test
mode would change something.
"""


def new_return(name):
    """The return of state ``name`` before it found anything to do: success, nothing changed."""
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def unchanged(ret, comment):
    """Nothing to do: everything is as it should be."""
    ret.update(result=True, changes={}, comment=comment)
    return ret


def would_change(ret, changes, comment):
    """test=True: ``changes`` would be made (nothing was); result None."""
    ret.update(result=None, changes=changes, comment=comment)
    return ret


def changed(ret, changes, comment):
    """``changes`` were made."""
    ret.update(result=True, changes=changes, comment=comment)
    return ret


def failed(ret, comment, **fields):
    """The state failed; ``fields`` (``changes``, ``warnings``, ...) say what happened on the way."""
    ret.update(result=False, comment=comment, **fields)
    return ret
