"""App keys of the portal application."""

from aiohttp import web

from controller.services import CommandSender
from portal.online import OfferHooks
from portal.sms import SmsProviders

SENDER = web.AppKey("command_sender", CommandSender)
SMS_PROVIDERS = web.AppKey("sms_providers", SmsProviders)
OFFERS = web.AppKey("online_offers", OfferHooks)  # marketing's, when the composition root wires it
