"""App keys of the portal application."""

from aiohttp import web

from controller.services import CommandSender

SENDER = web.AppKey("command_sender", CommandSender)
